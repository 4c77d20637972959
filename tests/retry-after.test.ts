import { AxiosError } from 'axios';
import { createServiceTitanClient } from '../src';
import { authOptions, customersPath, useFakeClock, useSandbox } from './helpers/sandbox';
import { tokenError } from './helpers/token-error';

const DEFAULT_RATE_LIMIT_COOLDOWN_MS = 5_000;

// What ServiceTitan could send that means nothing: negative, fractional, prose, and dates that
// have passed (Date.parse reads "-5" and "1.5" as dates in 2001).
const meaningless = (): [string, string][] => [
  ['a negative', '-5'],
  ['a fractional', '1.5'],
  ['a garbage', 'soon'],
  ['a past IMF-fixdate', new Date(Date.now() - 60_000).toUTCString()],
  ['a past asctime date', 'Sun Nov  6 08:49:37 1994'],
];

describe('G16: a Retry-After from the token endpoint holds the client back for tokenRequest.maxRetryAfterMs at most', () => {
  const sandbox = useSandbox();
  const clock = useFakeClock();

  test.each([
    ['the default', undefined, 30_000],
    ['a configured', 2_000, 2_000],
  ])(
    'Retry-After: 99999999999 (3,169 years) starts a cooldown of %s maxRetryAfterMs; then a request succeeds',
    async (_name, maxRetryAfterMs, capMs) => {
      const client = createServiceTitanClient(
        authOptions(sandbox(), maxRetryAfterMs === undefined ? {} : { tokenRequest: { maxRetryAfterMs } }),
      );
      sandbox().token.enqueue({ status: 429, retryAfterMs: 99_999_999_999_000 });
      const error = await tokenError(client.get(customersPath(sandbox())));
      expect(error).toMatchObject({ code: 'rate_limited', status: 429, retryAfterMs: capMs });
      expect(error.message).toContain(`retry after ${capMs / 1000} s`);
      expect(sandbox().token.count).toBe(1); // beyond the cap: not waited out by a retry either

      clock.advance(capMs - 10);
      expect(await tokenError(client.get(customersPath(sandbox())))).toBe(error);
      expect(sandbox().token.count).toBe(1);

      clock.advance(11); // the endpoint is healthy again
      expect((await client.get(customersPath(sandbox()))).status).toBe(200);
      expect(sandbox().token.count).toBe(2);
    },
  );

  test.each(meaningless())(
    '%s Retry-After (%p) counts as absent: the cooldown is tokenRequest.rateLimitedCooldownMs',
    async (_name, value) => {
      const client = createServiceTitanClient(authOptions(sandbox(), { tokenRequest: { retries: 0 } }));
      sandbox().token.enqueue({ status: 429, retryAfterMs: 'absent', headers: { 'retry-after': value } });
      const error = await tokenError(client.auth.getToken());
      expect(error).toMatchObject({ code: 'rate_limited', retryAfterMs: DEFAULT_RATE_LIMIT_COOLDOWN_MS });
      clock.advance(DEFAULT_RATE_LIMIT_COOLDOWN_MS - 10);
      await tokenError(client.auth.getToken());
      expect(sandbox().token.count).toBe(1);
    },
  );

  test.each([
    ['IMF-fixdate', (at: Date) => at.toUTCString()],
    [
      'RFC 850',
      (at: Date) => {
        const [weekday, day, month, year, time] = at.toUTCString().replace(',', '').split(' ') as string[];
        const weekdays = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
        const long = weekdays.find((name) => name.startsWith(weekday!))!;
        return `${long}, ${day}-${month}-${year!.slice(2)} ${time} GMT`;
      },
    ],
    [
      'asctime',
      (at: Date) => {
        const [weekday, day, month, year, time] = at.toUTCString().replace(',', '').split(' ') as string[];
        return `${weekday} ${month} ${day!.replace(/^0/, ' ')} ${time} ${year}`;
      },
    ],
  ])('a Retry-After as an HTTP date in %s form is honoured', async (_name, format) => {
    const client = createServiceTitanClient(authOptions(sandbox(), { tokenRequest: { retries: 0 } }));
    const value = format(new Date(Date.now() + 20_000));
    sandbox().token.enqueue({ status: 429, retryAfterMs: 'absent', headers: { 'retry-after': value } });
    const error = await tokenError(client.auth.getToken());
    // HTTP dates have whole seconds.
    expect(error.retryAfterMs).toBeGreaterThan(19_000);
    expect(error.retryAfterMs).toBeLessThanOrEqual(20_000);
  });
});

describe('G16: a Retry-After from the API', () => {
  const sandbox = useSandbox();

  test('Retry-After: 99999999999 beyond the default retry.maxRetryAfterMs (60 s) is not waited out: the 429 goes to the caller at once', async () => {
    const client = createServiceTitanClient(authOptions(sandbox()));
    await client.auth.getToken();
    sandbox().api.enqueue({ status: 429, retryAfterMs: 99_999_999_999_000 });
    const started = performance.now();
    const limited = await client.get(customersPath(sandbox())).catch((e: unknown) => e as AxiosError);
    expect((limited as AxiosError).response?.status).toBe(429);
    expect(performance.now() - started).toBeLessThan(2_500);
    expect(sandbox().api.count).toBe(1);
  });

  test.each(meaningless())('%s Retry-After (%p) pauses the client for pauseOn429Ms', async (_name, value) => {
    const client = createServiceTitanClient({
      ...authOptions(sandbox()),
      retry: { retries: 0 },
      rateLimit: { pauseOn429Ms: 300 },
    });
    await client.auth.getToken();
    sandbox().api.enqueue({ status: 429, retryAfterMs: 'absent', headers: { 'retry-after': value } });
    const limited = await client.get(customersPath(sandbox())).catch((e: unknown) => e as AxiosError);
    expect((limited as AxiosError).response?.status).toBe(429);
    await client.get(customersPath(sandbox()));
    const [first, second] = sandbox().api.requests.map((r) => r.at);
    // Read as "now" (a date in 2001, or 0), the pause would be none at all.
    expect(second! - first!).toBeGreaterThanOrEqual(300);
  });
});
