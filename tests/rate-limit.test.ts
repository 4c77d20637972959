import http from 'node:http';
import axios, { AxiosError, getAdapter, isCancel, type AxiosAdapter } from 'axios';
import { createServiceTitanClient, isServiceTitanAuthError } from '../src';
import { maxInAnyWindow } from '../src/testing/rate-limit';
import { MAX_TIMER_MS } from '../src/timer-limits';
import { authOptions, customersPath, flushIo, useSandbox } from './helpers/sandbox';
import type { Sandbox } from '../src/testing';

const reportPath = (sandbox: Sandbox, reportId: number) =>
  `/reporting/v2/tenant/${sandbox.tenantId}/report-category/operations/reports/${reportId}/data`;

/** axios's http adapter, noting when the limiter lets each request be sent (it wraps this one). */
function recordingAdapter(): { adapter: AxiosAdapter; sentAt: number[] } {
  const http = getAdapter(axios.defaults.adapter);
  const sentAt: number[] = [];
  return {
    sentAt,
    adapter: (config) => {
      sentAt.push(performance.now());
      return http(config);
    },
  };
}

const failure = (promise: Promise<unknown>) =>
  promise.then(
    () => undefined,
    (e: unknown) => e as AxiosError,
  );

describe('rate limiting in createServiceTitanClient', () => {
  const sandbox = useSandbox({ requestLogLimit: 1_000 });

  test('a burst of 300: never more than 60 sent in any window of 1 s + 40 ms, all succeed, the budget is used', async () => {
    const recording = recordingAdapter();
    const client = createServiceTitanClient({
      ...authOptions(sandbox()),
      tenantId: sandbox().tenantId,
      axios: { adapter: recording.adapter },
    });
    const responses = await Promise.all(
      Array.from({ length: 300 }, () => client.get('/crm/v2/tenant/{tenant}/customers', { params: { pageSize: 1 } })),
    );
    expect(responses.every((r) => r.status === 200)).toBe(true);
    expect(sandbox().api.count).toBe(300);
    expect(maxInAnyWindow(recording.sentAt, 1040)).toBe(60);
    // 300 at 60 per 1.04 s: the first 60 at once, the last 60 four windows later.
    const elapsed = recording.sentAt[299]! - recording.sentAt[0]!;
    expect(elapsed).toBeGreaterThanOrEqual(4 * 1040 - 1);
    // A bound, not a measure: 300 exchanges with an in-process sandbox are CPU work that took
    // 20 s at load 15-20 on 2 cores (4.2 s of it the window's), and a timed-out burst kept
    // sending into the next tests. What is asserted (send times) does not depend on the load.
  }, 60_000);

  test('counts by send time: with every answer held at the server, the next 10 go 1.04 s after the first 10', async () => {
    const client = createServiceTitanClient({ ...authOptions(sandbox()), rateLimit: { requestsPerSecond: 10 } });
    await client.auth.getToken();
    const hold = sandbox().api.hold();
    const started = performance.now();
    const requests = Array.from({ length: 20 }, () => client.get(customersPath(sandbox())));
    await hold.untilWaiting(10);
    await flushIo(20);
    expect(hold.waiting).toBe(10);
    // Before the fix, a place was held until 1 s after the answer: the 11th was never sent.
    await hold.untilWaiting(20);
    expect(performance.now() - started).toBeGreaterThanOrEqual(1039);
    hold.release();
    await Promise.all(requests);
  }, 10_000);

  test('windowMarginMs widens the window', async () => {
    const recording = recordingAdapter();
    const client = createServiceTitanClient({
      ...authOptions(sandbox()),
      rateLimit: { requestsPerSecond: 5, windowMarginMs: 400 },
      axios: { adapter: recording.adapter },
    });
    await Promise.all(Array.from({ length: 10 }, () => client.get(customersPath(sandbox()))));
    expect(recording.sentAt[5]! - recording.sentAt[0]!).toBeGreaterThanOrEqual(1399);
  });

  test('requestsPerSecond and maxConcurrent are configurable', async () => {
    const client = createServiceTitanClient({
      ...authOptions(sandbox()),
      rateLimit: { requestsPerSecond: 1000, maxConcurrent: 3 },
    });
    await client.auth.getToken();
    const hold = sandbox().api.hold();
    const requests = Array.from({ length: 30 }, () => client.get(customersPath(sandbox())));
    await hold.untilWaiting(3);
    await flushIo(20);
    expect(hold.waiting).toBe(3);
    hold.release();
    await Promise.all(requests);
    expect(sandbox().api.count).toBe(30);
    expect(sandbox().api.maxInFlight).toBe(3);
  });

  test('aborting a queued request removes it from the queue at once; the queue keeps going', async () => {
    const client = createServiceTitanClient({ ...authOptions(sandbox()), rateLimit: { requestsPerSecond: 2 } });
    await client.auth.getToken();
    await Promise.all([client.get(customersPath(sandbox())), client.get(customersPath(sandbox()))]);
    const controller = new AbortController();
    const queued = client.get(customersPath(sandbox()), { signal: controller.signal }).catch((e: unknown) => e);
    const next = client.get(customersPath(sandbox()));
    await flushIo();
    controller.abort();
    expect(isCancel(await queued)).toBe(true);
    expect(sandbox().api.count).toBe(2);
    expect((await next).status).toBe(200);
    expect(sandbox().api.count).toBe(3);
  });

  test('rateLimit: false sends a burst at once', async () => {
    const client = createServiceTitanClient({ ...authOptions(sandbox()), rateLimit: false });
    await client.auth.getToken();
    const hold = sandbox().api.hold();
    const requests = Array.from({ length: 100 }, () => client.get(customersPath(sandbox())));
    await hold.untilWaiting(100);
    hold.release();
    await Promise.all(requests);
  });

  // Nothing counts from such a request's write (no rolling second, no fleet budget, not a report
  // run): it reaches the adapter as the caller made it, with the caller's own agents, not the
  // wrappers through which the limiter sees when a request is written (src/rate-limit/written.ts).
  test("rateLimit: false: a request that is not a report run reaches the adapter with the caller's own agents", async () => {
    const agent = new http.Agent({ keepAlive: true });
    const httpAdapter = getAdapter(axios.defaults.adapter);
    const seen: { httpAgent: unknown; httpsAgent: unknown }[] = [];
    const client = createServiceTitanClient({
      ...authOptions(sandbox()),
      rateLimit: false,
      axios: {
        httpAgent: agent,
        adapter: (config) => {
          seen.push({ httpAgent: config.httpAgent, httpsAgent: config.httpsAgent });
          return httpAdapter(config);
        },
      },
    });
    try {
      expect((await client.get(customersPath(sandbox()))).status).toBe(200);
      expect(seen).toEqual([{ httpAgent: agent, httpsAgent: undefined }]);
    } finally {
      agent.destroy();
    }
  });

  test.each([
    [{ requestsPerSecond: 0 }, 'rateLimit.requestsPerSecond'],
    [{ windowMarginMs: -1 }, 'rateLimit.windowMarginMs'],
    [{ windowMarginMs: 2 ** 31 }, 'rateLimit.windowMarginMs'],
    // Its window (1 s or the reporting minute, plus the margin) would overflow Node's timers.
    [{ windowMarginMs: 2 ** 31 - 1 }, 'rateLimit.windowMarginMs must be at most 2147423647 ms'],
    [{ windowMarginMs: MAX_TIMER_MS - 60_000 + 1 }, 'rateLimit.windowMarginMs must be at most 2147423647 ms'],
    [{ pauseOn429Ms: Number.NaN }, 'rateLimit.pauseOn429Ms'],
    [{ maxConcurrent: 1.5 }, 'rateLimit.maxConcurrent'],
    [{ store: {} }, 'rateLimit.store'],
  ])('bad rateLimit %p fails at creation naming %s', (rateLimit, name) => {
    let error: unknown;
    try {
      createServiceTitanClient({ ...authOptions(sandbox()), rateLimit: rateLimit as never });
    } catch (e) {
      error = e;
    }
    expect(isServiceTitanAuthError(error) && error.code === 'invalid_config').toBe(true);
    expect((error as Error).message).toContain(name);
  });
});

describe('a 429 slows the whole client down', () => {
  const sandbox = useSandbox({ requestLogLimit: 1_000 });
  const arrivals = () => sandbox().api.requests.map((r) => r.at);

  test('every request waits out Retry-After, then the client resumes', async () => {
    const client = createServiceTitanClient({ ...authOptions(sandbox()), retry: false });
    await client.auth.getToken();
    sandbox().api.enqueue({ status: 429, retryAfterMs: 1_000 });
    expect((await failure(client.get(customersPath(sandbox()))))?.response?.status).toBe(429);
    const others = await Promise.all(Array.from({ length: 5 }, () => client.get(customersPath(sandbox()))));
    expect(others.every((r) => r.status === 200)).toBe(true);
    const [first, ...rest] = arrivals();
    expect(Math.min(...rest) - first!).toBeGreaterThanOrEqual(1000);
    // Resumed: no pause is left behind.
    const before = performance.now();
    await client.get(customersPath(sandbox()));
    expect(performance.now() - before).toBeLessThan(1000);
  });

  test('without Retry-After the pause is pauseOn429Ms; a long Retry-After is cut to retry.maxRetryAfterMs', async () => {
    const client = createServiceTitanClient({
      ...authOptions(sandbox()),
      retry: { maxRetryAfterMs: 300, retries: 0 },
      rateLimit: { pauseOn429Ms: 200 },
    });
    await client.auth.getToken();
    sandbox().api.enqueue({ status: 429, retryAfterMs: 'absent' });
    await failure(client.get(customersPath(sandbox())));
    await client.get(customersPath(sandbox()));
    const [a, b] = arrivals();
    expect(b! - a!).toBeGreaterThanOrEqual(200);

    sandbox().resetCounters();
    sandbox().api.enqueue({ status: 429, retryAfterMs: 3_600_000 });
    await failure(client.get(customersPath(sandbox())));
    const started = performance.now();
    await client.get(customersPath(sandbox()));
    const [c, d] = arrivals();
    expect(d! - c!).toBeGreaterThanOrEqual(300);
    expect(performance.now() - started).toBeLessThan(3000);
  });

  test('repeated 429s: the retry queues like any request and succeeds once the server lets it', async () => {
    const client = createServiceTitanClient({ ...authOptions(sandbox()), retry: { retryDelayMs: 1 } });
    await client.auth.getToken();
    sandbox().api.enqueue({ status: 429, retryAfterMs: 'absent', times: 3 });
    const response = await client.get(customersPath(sandbox()));
    expect(response.status).toBe(200);
    const times = arrivals();
    expect(sandbox().api.requests.map((r) => r.status)).toEqual([429, 429, 429, 200]);
    for (let i = 1; i < times.length; i += 1) expect(times[i]! - times[i - 1]!).toBeGreaterThanOrEqual(1000);
  }, 10_000);
});

describe('the reporting limit', () => {
  const sandbox = useSandbox({ requestLogLimit: 1_000 });

  test('at most 5 data calls of the same report start per minute; other reports are not held up', async () => {
    const client = createServiceTitanClient({
      ...authOptions(sandbox()),
      retry: false,
      reportLimit: { perMinute: 5 },
    });
    await client.auth.getToken();
    const call = (reportId: number, signal?: AbortSignal) =>
      client.post(
        reportPath(sandbox(), reportId),
        { parameters: [] },
        { validateStatus: () => true, ...(signal ? { signal } : {}) },
      );
    await Promise.all(Array.from({ length: 5 }, () => call(42)));
    const controller = new AbortController();
    const sixth = call(42, controller.signal).catch((e: unknown) => e);
    await call(7);
    await flushIo(20);

    const reportCalls = (id: number) =>
      sandbox().api.requests.filter((r) => r.path === reportPath(sandbox(), id)).length;
    expect(reportCalls(42)).toBe(5);
    expect(reportCalls(7)).toBe(1);
    controller.abort();
    expect(isCancel(await sixth)).toBe(true);
    expect(reportCalls(42)).toBe(5);
  });

  test('by default 1 data call of the same report starts per minute (the stricter published figure)', async () => {
    const client = createServiceTitanClient({ ...authOptions(sandbox()), retry: false });
    await client.auth.getToken();
    const controller = new AbortController();
    const first = await client.post(reportPath(sandbox(), 42), { parameters: [] });
    const second = client.post(reportPath(sandbox(), 42), { parameters: [] }, { signal: controller.signal });
    const other = await client.post(reportPath(sandbox(), 7), { parameters: [] });
    await flushIo(20);
    expect([first.status, other.status]).toEqual([200, 200]);
    expect(sandbox().api.requests.map((r) => r.path)).toEqual([reportPath(sandbox(), 42), reportPath(sandbox(), 7)]);
    controller.abort();
    expect(isCancel(await second.catch((e: unknown) => e))).toBe(true);
    expect(sandbox().api.count).toBe(2);
  });

  test.each([0, 1.5, '2'])('reportLimit.perMinute %p fails at creation naming it', (perMinute) => {
    let error: unknown;
    try {
      createServiceTitanClient({ ...authOptions(sandbox()), reportLimit: { perMinute: perMinute as never } });
    } catch (e) {
      error = e;
    }
    expect(isServiceTitanAuthError(error) && error.code === 'invalid_config').toBe(true);
    expect((error as Error).message).toContain('reportLimit.perMinute must be an integer >= 1');
  });

  test("a 429 on report data holds back that report alone, never the client's other traffic", async () => {
    // The reporting limit off on the client: the server's is the only one, and its 429 must not
    // pause the tenant's lists for a minute.
    const client = createServiceTitanClient({
      ...authOptions(sandbox()),
      reportLimit: false,
      retry: false,
      axios: { timeout: 5000 },
    });
    await client.auth.getToken();
    sandbox().api.enqueue({ status: 429, retryAfterMs: 60_000 });
    const refused = await failure(client.post(reportPath(sandbox(), 42), { parameters: [] }));
    expect(refused?.response?.status).toBe(429);
    const started = performance.now();
    expect((await client.get(customersPath(sandbox()))).status).toBe(200);
    expect(performance.now() - started).toBeLessThan(5000);
    expect(sandbox().api.requests.map((r) => r.status)).toEqual([429, 200]);
  });
});

describe('every window and pause of the largest accepted options fits a Node timer', () => {
  const sandbox = useSandbox({ retryAfterStyle: 'absent' });

  test('no timer is set for longer than 2^31 - 1 ms (Node would fire it after 1 ms, and warn)', async () => {
    const longest = MAX_TIMER_MS - 60_000;
    const client = createServiceTitanClient({
      ...authOptions(sandbox()),
      retry: { maxRetryAfterMs: MAX_TIMER_MS, retries: 0 },
      rateLimit: { requestsPerSecond: 1, windowMarginMs: longest, pauseOn429Ms: MAX_TIMER_MS },
      reportLimit: { perMinute: 1 },
      axios: { timeout: 0 },
    });
    await client.auth.getToken();
    const delays: number[] = [];
    const realSetTimeout = global.setTimeout;
    const spy = jest.spyOn(global, 'setTimeout').mockImplementation(((fn: () => void, ms?: number) => {
      delays.push(ms ?? 0);
      return realSetTimeout(fn, ms);
    }) as typeof setTimeout);
    try {
      const controller = new AbortController();
      const { signal } = controller;
      // The report's minute plus the margin, and the second plus the margin.
      await client.post(reportPath(sandbox(), 42), { parameters: [] });
      const secondRun = client.post(reportPath(sandbox(), 42), { parameters: [] }, { signal });
      const secondRequest = client.get(customersPath(sandbox()), { signal });
      await flushIo(20);
      controller.abort();
      expect(isCancel(await secondRun.catch((e: unknown) => e))).toBe(true);
      expect(isCancel(await secondRequest.catch((e: unknown) => e))).toBe(true);
      // A 429 without Retry-After pauses the client for the longest pauseOn429Ms.
      const paused = createServiceTitanClient({
        ...authOptions(sandbox()),
        retry: { maxRetryAfterMs: MAX_TIMER_MS, retries: 0 },
        rateLimit: { windowMarginMs: longest, pauseOn429Ms: MAX_TIMER_MS },
        axios: { timeout: 0 },
      });
      sandbox().api.enqueue({ status: 429 });
      expect((await failure(paused.get(customersPath(sandbox()))))?.response?.status).toBe(429);
      const afterPause = new AbortController();
      const held = paused.get(customersPath(sandbox()), { signal: afterPause.signal });
      await flushIo(20);
      afterPause.abort();
      expect(isCancel(await held.catch((e: unknown) => e))).toBe(true);

      expect(delays.filter((ms) => ms > 60_000)).toHaveLength(3);
      expect(Math.max(...delays)).toBeLessThanOrEqual(MAX_TIMER_MS);
      expect(
        sandbox()
          .api.requests.filter((r) => r.endpoint === 'api')
          .map((r) => r.status),
      ).toEqual([200, 429]);
    } finally {
      spy.mockRestore();
    }
  });
});
