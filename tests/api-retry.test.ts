import { AxiosError } from 'axios';
import { createServiceTitanClient, type ServiceTitanClientOptions } from '../src';
import { authOptions, customersPath, useSandbox } from './helpers/sandbox';

describe('API retries in createServiceTitanClient', () => {
  const sandbox = useSandbox();
  const client = (overrides: Partial<ServiceTitanClientOptions> = {}) =>
    createServiceTitanClient({ ...authOptions(sandbox()), retry: { retryDelayMs: 1 }, ...overrides });
  const echoPath = () => `/sandbox/v1/tenant/${sandbox().tenantId}/echo`;
  const failure = (promise: Promise<unknown>) =>
    promise.then(
      () => undefined,
      (e: unknown) => e as AxiosError,
    );

  test('429 then success: the GET is retried after Retry-After', async () => {
    sandbox().api.enqueue({ status: 429, retryAfterMs: 1_000 });
    const started = Date.now();
    expect((await client().get(customersPath(sandbox()))).status).toBe(200);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
    expect(sandbox().api.requests.map((r) => r.status)).toEqual([429, 200]);
  });

  test('429 with Retry-After as an HTTP date, and without Retry-After', async () => {
    sandbox().api.enqueue(
      { status: 429, retryAfterDate: new Date(Date.now() + 1000) },
      { status: 429, retryAfterMs: 'absent' },
    );
    expect((await client().get(customersPath(sandbox()))).status).toBe(200);
    expect(sandbox().api.count).toBe(3);
  });

  test('a Retry-After beyond retry.maxRetryAfterMs goes to the caller at once', async () => {
    sandbox().api.enqueue({ status: 429, retryAfterMs: 120_000 });
    const error = await failure(client({ retry: { maxRetryAfterMs: 5_000 } }).get(customersPath(sandbox())));
    expect(error?.response?.status).toBe(429);
    expect(sandbox().api.count).toBe(1);
  });

  test.each([502, 503, 504])('%i is retried for GET', async (status) => {
    sandbox().api.enqueue({ status });
    expect((await client().get(customersPath(sandbox()))).status).toBe(200);
    expect(sandbox().api.count).toBe(2);
  });

  test('500 and 400 are not retried', async () => {
    sandbox().api.enqueue({ status: 500 }, { status: 400 });
    expect((await failure(client().get(customersPath(sandbox()))))?.response?.status).toBe(500);
    expect((await failure(client().get(customersPath(sandbox()))))?.response?.status).toBe(400);
    expect(sandbox().api.count).toBe(2);
  });

  test('a connection reset is retried for GET', async () => {
    sandbox().api.enqueue({ reset: true });
    expect((await client().get(customersPath(sandbox()))).status).toBe(200);
    expect(sandbox().api.count).toBe(2);
  });

  test('POST and PATCH are not retried by default', async () => {
    sandbox().api.enqueue({ status: 503 }, { status: 503 });
    expect((await failure(client().post(echoPath(), { a: 1 })))?.response?.status).toBe(503);
    expect((await failure(client().patch(echoPath(), { a: 1 })))?.response?.status).toBe(503);
    expect(sandbox().api.count).toBe(2);
  });

  test('POST is retried when the client or the request opts in', async () => {
    sandbox().api.enqueue({ status: 503 });
    const { data } = await client({ retry: { retryDelayMs: 1, retryNonIdempotent: true } }).post(echoPath(), { a: 1 });
    expect(data.body).toEqual({ a: 1 });
    sandbox().api.enqueue({ status: 503 });
    await client().post(echoPath(), { b: 2 }, { serviceTitanAuth: { retry: { retryNonIdempotent: true } } });
    expect(sandbox().api.requests.map((r) => r.status)).toEqual([503, 200, 503, 200]);
  });

  test('per request: retry: false, or another number of retries', async () => {
    sandbox().api.enqueue({ status: 503, times: 10 });
    await failure(client().get(customersPath(sandbox()), { serviceTitanAuth: { retry: false } }));
    expect(sandbox().api.count).toBe(1);
    await failure(client().get(customersPath(sandbox()), { serviceTitanAuth: { retry: { retries: 1 } } }));
    expect(sandbox().api.count).toBe(3);
  });

  test('retries are spent: the last error goes to the caller', async () => {
    sandbox().api.enqueue({ status: 503, times: 4 });
    expect((await failure(client().get(customersPath(sandbox()))))?.response?.status).toBe(503);
    expect(sandbox().api.count).toBe(4);
  });

  test('retry: false turns retries off for the client', async () => {
    sandbox().api.enqueue({ status: 503 });
    await failure(client({ retry: false }).get(customersPath(sandbox())));
    expect(sandbox().api.count).toBe(1);
  });

  test('a 401 and a 503 on the same request: one renewal, one retry, success', async () => {
    const c = client();
    await c.auth.getToken();
    sandbox().revokeAllTokens();
    sandbox().api.enqueue({ status: 503, match: (r) => r.tokenId === 'tok-2' });
    expect((await c.get(customersPath(sandbox()))).status).toBe(200);
    expect(sandbox().api.requests.map((r) => [r.tokenId, r.status])).toEqual([
      ['tok-1', 401],
      ['tok-2', 503],
      ['tok-2', 200],
    ]);
    expect(sandbox().token.count).toBe(2);
  });

  test('bad retry options fail at creation, naming the option', () => {
    expect(() => client({ retry: { retries: -1 } })).toThrow(/retry.retries/);
    expect(() => client({ retry: { statuses: [200] } })).toThrow(/retry.statuses/);
    expect(() => client({ rateLimit: { requestsPerSecond: 0 } })).toThrow(/rateLimit.requestsPerSecond/);
    expect(() => client({ reportLimit: { perMinute: 1.5 } })).toThrow(/reportLimit.perMinute/);
  });
});
