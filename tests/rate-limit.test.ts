import { isCancel } from 'axios';
import { createServiceTitanClient } from '../src';
import { authOptions, customersPath, flushIo, useSandbox } from './helpers/sandbox';
import type { Sandbox } from '../src/testing';

/** The most API requests the sandbox received in any rolling window of `windowMs`. */
function maxInAnyWindow(sandbox: Sandbox, windowMs: number): number {
  const times = sandbox.api.requests.map((r) => r.at).sort((a, b) => a - b);
  let max = 0;
  for (let start = 0, end = 0; end < times.length; end += 1) {
    while (times[end]! - times[start]! >= windowMs) start += 1;
    max = Math.max(max, end - start + 1);
  }
  return max;
}

const reportPath = (sandbox: Sandbox, reportId: number) =>
  `/reporting/v2/tenant/${sandbox.tenantId}/report-category/operations/reports/${reportId}/data`;

describe('rate limiting in createServiceTitanClient', () => {
  const sandbox = useSandbox({ requestLogLimit: 1_000 });

  test('a burst of 300 requests never exceeds 60 in any one-second window at the server, and all succeed', async () => {
    const client = createServiceTitanClient({ ...authOptions(sandbox()), tenantId: sandbox().tenantId });
    const started = Date.now();
    const responses = await Promise.all(
      Array.from({ length: 300 }, () => client.get('/crm/v2/tenant/{tenant}/customers', { params: { pageSize: 1 } })),
    );
    const seconds = (Date.now() - started) / 1000;
    expect(responses.every((r) => r.status === 200)).toBe(true);
    expect(sandbox().api.count).toBe(300);
    expect(maxInAnyWindow(sandbox(), 1000)).toBeLessThanOrEqual(60);
    // 300 requests at 60 per rolling second: the first 60 at once, then four more windows.
    expect(seconds).toBeGreaterThanOrEqual(4);
  }, 20_000);

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
});

describe('the reporting limit', () => {
  const sandbox = useSandbox({ requestLogLimit: 1_000 });

  test('at most 5 data calls of the same report start per minute; other reports are not held up', async () => {
    const client = createServiceTitanClient({ ...authOptions(sandbox()), retry: false });
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
});
