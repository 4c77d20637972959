import { AxiosError, isCancel } from 'axios';
import { createServiceTitanClient, isServiceTitanAuthError } from '../src';
import { authOptions, customersPath, useSandbox } from './helpers/sandbox';

const failure = (promise: Promise<unknown>) =>
  promise.then(
    () => undefined,
    (e: unknown) => e as AxiosError,
  );

describe('the timeout of a request counts from the moment it was made', () => {
  const sandbox = useSandbox();

  test.each([{}, { maxConcurrent: 60 }])(
    'the issue: 60 requests that never get an answer, then get(url, { timeout: 1000 }) settles in ~1 s (rateLimit %p)',
    async (rateLimit) => {
      const client = createServiceTitanClient({ ...authOptions(sandbox()), rateLimit });
      await client.auth.getToken();
      const hold = sandbox().api.hold();
      const stuck = Array.from({ length: 60 }, () => failure(client.get(customersPath(sandbox()))));
      await hold.untilWaiting(60);
      const started = performance.now();
      const error = await failure(client.get(customersPath(sandbox()), { timeout: 1000 }));
      const elapsed = performance.now() - started;
      expect(error).toBeInstanceOf(AxiosError);
      expect(error?.code).toBe('ECONNABORTED');
      expect(error?.message).toBe('timeout of 1000ms exceeded');
      expect(elapsed).toBeGreaterThanOrEqual(999);
      // Far below a second timeout or a retry: the one timer fired, nothing else was waited for.
      expect(elapsed).toBeLessThan(1900);
      // Not retried past its deadline. Behind a full concurrency cap it never reached the server;
      // in the rolling second alone it may have been sent at 1.04 s after the first 60 were.
      expect(sandbox().api.count).toBeLessThanOrEqual('maxConcurrent' in rateLimit ? 60 : 61);
      hold.release();
      await Promise.all(stuck);
    },
    10_000,
  );

  test('time queued counts: sent after 1.04 s in the rate limit, it times out 1.5 s after it was made, not after it was sent', async () => {
    const client = createServiceTitanClient({ ...authOptions(sandbox()), rateLimit: { requestsPerSecond: 1 } });
    await client.auth.getToken();
    const hold = sandbox().api.hold();
    const first = failure(client.get(customersPath(sandbox())));
    await hold.untilWaiting(1);
    const started = performance.now();
    const error = await failure(client.get(customersPath(sandbox()), { timeout: 1500 }));
    const elapsed = performance.now() - started;
    expect(sandbox().api.count).toBe(2);
    expect(error?.code).toBe('ECONNABORTED');
    expect(elapsed).toBeGreaterThanOrEqual(1499);
    // Counted from when it was sent, it would have ended after 1.04 + 1.5 s.
    expect(elapsed).toBeLessThan(2500);
    hold.release();
    await first;
  }, 10_000);

  test('transitional.clarifyTimeoutError gives ETIMEDOUT, and timeoutErrorMessage is used, as with axios', async () => {
    const client = createServiceTitanClient({
      ...authOptions(sandbox()),
      axios: { transitional: { clarifyTimeoutError: true }, timeoutErrorMessage: 'too slow' },
    });
    sandbox().api.enqueue({ hang: true });
    const error = await failure(client.get(customersPath(sandbox()), { timeout: 200 }));
    expect(error?.code).toBe('ETIMEDOUT');
    expect(error?.message).toBe('too slow');
  });

  test('a timeout spans the retries: a 503 answered slowly is not retried past the deadline', async () => {
    const client = createServiceTitanClient({ ...authOptions(sandbox()), retry: { retryDelayMs: 1 } });
    await client.auth.getToken();
    sandbox().api.enqueue({ status: 503, delayMs: 300, times: 10 });
    const started = performance.now();
    const error = await failure(client.get(customersPath(sandbox()), { timeout: 500 }));
    expect(error?.code).toBe('ECONNABORTED');
    expect(performance.now() - started).toBeLessThan(1500);
    expect(sandbox().api.count).toBe(2);
  });

  test('a signal aborts a request queued behind requests that never answer', async () => {
    const client = createServiceTitanClient({ ...authOptions(sandbox()), rateLimit: { maxConcurrent: 1 } });
    await client.auth.getToken();
    const hold = sandbox().api.hold();
    const stuck = failure(client.get(customersPath(sandbox())));
    await hold.untilWaiting(1);
    const controller = new AbortController();
    const queued = failure(client.get(customersPath(sandbox()), { signal: controller.signal }));
    setTimeout(() => controller.abort(), 50);
    expect(isCancel(await queued)).toBe(true);
    expect(sandbox().api.count).toBe(1);
    hold.release();
    await stuck;
  });

  test('the client has a default timeout just above ServiceTitan’s 100 s; axios.timeout overrides it; 0 turns it off', () => {
    expect(createServiceTitanClient(authOptions(sandbox())).defaults.timeout).toBe(105_000);
    expect(createServiceTitanClient({ ...authOptions(sandbox()), axios: { timeout: 5 } }).defaults.timeout).toBe(5);
    expect(createServiceTitanClient({ ...authOptions(sandbox()), axios: { timeout: 0 } }).defaults.timeout).toBe(0);
    for (const timeout of [-1, 2 ** 31, Number.NaN]) {
      let error: unknown;
      try {
        createServiceTitanClient({ ...authOptions(sandbox()), axios: { timeout } });
      } catch (e) {
        error = e;
      }
      expect(isServiceTitanAuthError(error) && error.message.includes('axios.timeout')).toBe(true);
    }
  });
});
