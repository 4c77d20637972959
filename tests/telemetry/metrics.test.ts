import axios from 'axios';
import { attachServiceTitanAuth, createServiceTitanClient, isServiceTitanAuthError, type TokenStore } from '../../src';
import { METRIC } from '../../src/telemetry/instruments';
import { authOptions, customersPath, flushIo, useFakeClock, useSandbox } from '../helpers/sandbox';
import { useOpenTelemetry } from './otel-sdk';

const OUTCOME = 'servicetitan.token.outcome';
const REASON = 'servicetitan.token.reason';

describe('metrics: token requests', () => {
  const sandbox = useSandbox();
  const otel = useOpenTelemetry();

  test('a cold burst of 50 requests records exactly one token request (cold, success) and one duration', async () => {
    const api = axios.create({ baseURL: sandbox().apiUrl });
    attachServiceTitanAuth(api, authOptions(sandbox()));
    await Promise.all(Array.from({ length: 50 }, () => api.get(customersPath(sandbox()))));
    const collected = await otel.collect();
    expect(sandbox().token.count).toBe(1);
    expect(collected.sum(METRIC.tokenRequests)).toBe(1);
    expect(collected.sum(METRIC.tokenRequests, { [REASON]: 'cold', [OUTCOME]: 'success' })).toBe(1);
    const duration = collected.histogram(METRIC.tokenRequestDuration, { [OUTCOME]: 'success' });
    expect(duration.count).toBe(1);
    expect(duration.sum).toBeGreaterThan(0);
    expect(duration.sum).toBeLessThan(15); // seconds, not milliseconds
    expect(collected.points.get(METRIC.tokenRequestDuration)?.unit).toBe('s');
    expect(collected.points.get(METRIC.tokenRequests)?.unit).toBe('{request}');
  });

  test('a revocation with 20 requests in flight records one renewal (after_401) and 20 replays', async () => {
    const api = axios.create({ baseURL: sandbox().apiUrl });
    attachServiceTitanAuth(api, authOptions(sandbox()));
    await api.get(customersPath(sandbox()));
    const hold = sandbox().api.hold();
    const requests = Array.from({ length: 20 }, () => api.get(customersPath(sandbox())));
    await hold.untilWaiting(20);
    sandbox().revokeAllTokens();
    hold.release();
    await Promise.all(requests);
    const collected = await otel.collect();
    expect(sandbox().token.count).toBe(2);
    expect(collected.sum(METRIC.tokenRequests, { [REASON]: 'after_401', [OUTCOME]: 'success' })).toBe(1);
    expect(collected.sum(METRIC.tokenRequests)).toBe(2);
    expect(collected.sum(METRIC.replays)).toBe(20);
    expect(collected.sum(METRIC.renewalsHeldBack)).toBe(0);
  });

  test('a 401 for a token obtained for a 401 moments ago is counted as held back, not as a renewal', async () => {
    const api = axios.create({ baseURL: sandbox().apiUrl });
    attachServiceTitanAuth(api, authOptions(sandbox()));
    await api.get(customersPath(sandbox()));
    // The API rejects whatever it gets (as with a wrong app key): 401, renew, replay 401; then 401 again.
    sandbox().api.enqueue({ status: 401, times: 3 });
    await expect(api.get(customersPath(sandbox()))).rejects.toMatchObject({ response: { status: 401 } });
    await expect(api.get(customersPath(sandbox()))).rejects.toMatchObject({ response: { status: 401 } });
    const collected = await otel.collect();
    expect(sandbox().token.count).toBe(2);
    expect(collected.sum(METRIC.tokenRequests, { [REASON]: 'after_401' })).toBe(1);
    expect(collected.sum(METRIC.replays)).toBe(1);
    expect(collected.sum(METRIC.renewalsHeldBack)).toBe(1);
  });

  test('getToken({ forceRefresh: true }) is recorded as forced', async () => {
    const api = axios.create({ baseURL: sandbox().apiUrl });
    const auth = attachServiceTitanAuth(api, authOptions(sandbox()));
    await auth.getToken();
    await auth.getToken({ forceRefresh: true });
    const collected = await otel.collect();
    expect(collected.sum(METRIC.tokenRequests, { [REASON]: 'cold' })).toBe(1);
    expect(collected.sum(METRIC.tokenRequests, { [REASON]: 'forced' })).toBe(1);
  });

  test.each([
    ['invalid_client', [{ status: 400, body: { error: 'invalid_client' } }], 0],
    ['rate_limited', [{ status: 429, retryAfterMs: 120_000 }], 0],
    ['failed', [{ status: 503 }, { status: 503 }, { status: 503 }], 2],
    ['invalid_token_response', [{ status: 200, body: { access_token: '' } }], 0],
  ] as const)(
    'a fetch that ends %s is counted by that outcome, its retries separately',
    async (outcome, faults, retries) => {
      const api = axios.create({ baseURL: sandbox().apiUrl });
      attachServiceTitanAuth(api, authOptions(sandbox()));
      sandbox().token.enqueue(...faults);
      const error: unknown = await api.get(customersPath(sandbox())).catch((e: unknown) => e);
      expect(isServiceTitanAuthError(error)).toBe(true);
      const collected = await otel.collect();
      expect(sandbox().token.count).toBe(faults.length);
      expect(collected.sum(METRIC.tokenRequests)).toBe(1);
      expect(collected.sum(METRIC.tokenRequests, { [OUTCOME]: outcome, [REASON]: 'cold' })).toBe(1);
      expect(collected.histogram(METRIC.tokenRequestDuration, { [OUTCOME]: outcome }).count).toBe(1);
      expect(collected.sum(METRIC.tokenRetries)).toBe(retries);
      if (retries > 0) expect(collected.sum(METRIC.tokenRetries, { 'error.type': '503' })).toBe(retries);
    },
  );

  test('a fetch refused during the failure cooldown is not a token request', async () => {
    const api = axios.create({ baseURL: sandbox().apiUrl });
    attachServiceTitanAuth(api, authOptions(sandbox(), { tokenRequest: { failureCooldownMs: 60_000 } }));
    sandbox().token.enqueue({ status: 400, body: { error: 'invalid_client' } });
    for (let i = 0; i < 3; i += 1) await api.get(customersPath(sandbox())).catch(() => undefined);
    const collected = await otel.collect();
    expect(sandbox().token.count).toBe(1);
    expect(collected.sum(METRIC.tokenRequests)).toBe(1);
  });
});

describe('metrics: renewal ahead of expiry', () => {
  const sandbox = useSandbox({ tokenLifetimeMs: 900_000 });
  const otel = useOpenTelemetry();
  const clock = useFakeClock();

  test('a background renewal inside the refresh buffer is recorded as ahead_of_expiry', async () => {
    const api = axios.create({ baseURL: sandbox().apiUrl });
    attachServiceTitanAuth(api, authOptions(sandbox()));
    await api.get(customersPath(sandbox()));
    clock.advance(850_000);
    await api.get(customersPath(sandbox()));
    for (let i = 0; i < 50 && sandbox().token.count < 2; i += 1) await flushIo();
    await flushIo();
    const collected = await otel.collect();
    expect(sandbox().token.count).toBe(2);
    expect(collected.sum(METRIC.tokenRequests, { [REASON]: 'ahead_of_expiry', [OUTCOME]: 'success' })).toBe(1);
  });
});

describe('metrics: the rate limiter', () => {
  const sandbox = useSandbox();
  const otel = useOpenTelemetry();

  test('a queued burst records a wait per request, a non-zero wait histogram, and how many wait now', async () => {
    const client = createServiceTitanClient({
      ...authOptions(sandbox()),
      rateLimit: { requestsPerSecond: 1000, maxConcurrent: 1 },
    });
    await client.auth.getToken();
    const hold = sandbox().api.hold();
    const requests = Array.from({ length: 5 }, () => client.get(customersPath(sandbox())));
    await hold.untilWaiting(1);
    await flushIo(10);
    const whileHeld = await otel.collect();
    expect(whileHeld.sum(METRIC.rateLimitWaiting)).toBe(4);
    expect(whileHeld.histogram(METRIC.rateLimitWaitDuration).count).toBe(1);
    hold.release();
    await Promise.all(requests);
    const after = await otel.collect();
    expect(after.sum(METRIC.rateLimitWaiting)).toBe(0);
    const waits = after.histogram(METRIC.rateLimitWaitDuration);
    expect(waits.count).toBe(5);
    expect(waits.sum).toBeGreaterThan(0);
    expect(after.points.get(METRIC.rateLimitWaitDuration)?.unit).toBe('s');
  });

  test('a request aborted in the queue leaves the waiting count and records no wait', async () => {
    const client = createServiceTitanClient({
      ...authOptions(sandbox()),
      rateLimit: { requestsPerSecond: 1000, maxConcurrent: 1 },
    });
    await client.auth.getToken();
    const hold = sandbox().api.hold();
    const first = client.get(customersPath(sandbox()));
    const controller = new AbortController();
    const queued = client.get(customersPath(sandbox()), { signal: controller.signal }).catch((e: unknown) => e);
    await hold.untilWaiting(1);
    await flushIo(10);
    expect((await otel.collect()).sum(METRIC.rateLimitWaiting)).toBe(1);
    controller.abort();
    await queued;
    expect((await otel.collect()).sum(METRIC.rateLimitWaiting)).toBe(0);
    hold.release();
    await first;
    const collected = await otel.collect();
    expect(collected.histogram(METRIC.rateLimitWaitDuration).count).toBe(1);
    expect(sandbox().api.count).toBe(1);
  });
});

describe('metrics: store fallbacks', () => {
  const sandbox = useSandbox();
  const otel = useOpenTelemetry();
  const clock = useFakeClock();

  test('a failing token store is counted once per failed call, requests still succeed, and a recovered store stops the count', async () => {
    let down = true;
    const values = new Map<string, Parameters<TokenStore['set']>[1]>();
    const guard = () => {
      if (down) throw new Error('store unreachable');
    };
    const store: TokenStore = {
      get: async (key) => (guard(), values.get(key)),
      set: async (key, value) => void (guard(), values.set(key, value)),
      delete: async (key) => void (guard(), values.delete(key)),
    };
    const api = axios.create({ baseURL: sandbox().apiUrl });
    const auth = attachServiceTitanAuth(api, authOptions(sandbox(), { store }));
    await Promise.all(Array.from({ length: 10 }, () => api.get(customersPath(sandbox()))));
    // The failed store is left alone for a while: one failed call, one fallback.
    expect((await otel.collect()).sum(METRIC.storeFallbacks, { 'servicetitan.store': 'token_store' })).toBe(1);
    clock.advance(6_000);
    await auth.getToken({ forceRefresh: true });
    expect((await otel.collect()).sum(METRIC.storeFallbacks)).toBe(2);
    down = false;
    clock.advance(6_000);
    await auth.getToken({ forceRefresh: true });
    await api.get(customersPath(sandbox()));
    expect((await otel.collect()).sum(METRIC.storeFallbacks)).toBe(2);
    expect(sandbox().api.count).toBe(11);
  });
});

describe('the telemetry option', () => {
  const sandbox = useSandbox();
  const otel = useOpenTelemetry();

  test('telemetry: false records nothing, with an SDK registered', async () => {
    const client = createServiceTitanClient({ ...authOptions(sandbox()), telemetry: false });
    await Promise.all(Array.from({ length: 5 }, () => client.get(customersPath(sandbox()))));
    sandbox().revokeAllTokens();
    await client.get(customersPath(sandbox()));
    const collected = await otel.collect();
    expect(sandbox().token.count).toBe(2);
    expect([...collected.points.keys()]).toEqual([]);
    expect(otel.spans()).toEqual([]);
  });

  test.each(['yes', 1, null])('telemetry: %p is rejected with invalid_config naming the option', (value) => {
    const options = { ...authOptions(sandbox()), telemetry: value as unknown as boolean };
    expect(() => attachServiceTitanAuth(axios.create(), options)).toThrow(
      expect.objectContaining({ code: 'invalid_config', message: expect.stringContaining('telemetry') }),
    );
    expect(() => createServiceTitanClient(options)).toThrow(expect.objectContaining({ code: 'invalid_config' }));
  });
});

describe('an SDK registered after the client was created', () => {
  const sandbox = useSandbox();
  const otel = useOpenTelemetry({ meterProvider: false });

  test('is picked up on the next data point; before it nothing is recorded', async () => {
    const client = createServiceTitanClient(authOptions(sandbox()));
    await client.get(customersPath(sandbox()));
    otel.registerMeterProvider();
    await client.auth.getToken({ forceRefresh: true });
    await client.get(customersPath(sandbox()));
    const collected = await otel.collect();
    expect(collected.sum(METRIC.tokenRequests)).toBe(1);
    expect(collected.sum(METRIC.tokenRequests, { [REASON]: 'forced' })).toBe(1);
    expect(collected.histogram(METRIC.rateLimitWaitDuration).count).toBe(1);
  });
});
