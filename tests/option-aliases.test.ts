import axios from 'axios';
import pLimit, { type LimitFunction } from 'p-limit';
import {
  attachServiceTitanAuth,
  createServiceTitanClient,
  isServiceTitanAuthError,
  MemoryTokenStore,
  type ServiceTitanAuthOptions,
  type ServiceTitanClientOptions,
} from '../src';
import { DEPRECATED_OPTION_NAMES, type DeprecatedOptionName } from '../src/deprecated-options';
import { authOptions, customersPath, useFakeClock, useSandbox } from './helpers/sandbox';
import { recordingLogger } from './helpers/logger';
import { tokenError } from './helpers/token-error';

// Issue 19 item 8: every 0.1 option name keeps working as an alias of its new name. Each case
// runs one scenario twice, with the old name and with the new one, and expects the same figures
// counted at the sandbox; each expected figure differs from what the default gives, so a name
// that were ignored would fail its case.

type Options = Partial<ServiceTitanClientOptions>;

interface AliasCase {
  oldName: DeprecatedOptionName;
  old: Options;
  new: Options;
  /** What the scenario observes with either name (the default gives something else). */
  expected: unknown;
  scenario: (options: Options) => Promise<unknown>;
}

const sandbox = useSandbox();
const clock = useFakeClock();

const client = (options: Options) => createServiceTitanClient(authOptions(sandbox(), options));
const tokenCount = () => sandbox().token.count;
const realDelay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Token requests at 121 s and 119 s before expiry of a 900 s token (default buffer: 60 s). */
async function renewalAhead(options: Options): Promise<number[]> {
  const { logger, next } = recordingLogger();
  const api = client({ ...options, logger });
  await api.get(customersPath(sandbox()));
  clock.advance(900_000 - 121_000);
  await api.get(customersPath(sandbox()));
  const before = tokenCount();
  clock.advance(2_000);
  const renewed = next('token obtained');
  await api.get(customersPath(sandbox()));
  await Promise.race([renewed, realDelay(5_000)]); // bounded: without the renewal, count stays 1
  return [before, tokenCount()];
}

/** A token endpoint that hangs: the error's wording gives the attempt's deadline. */
async function hangingEndpoint(options: Options): Promise<unknown[]> {
  sandbox().token.enqueue({ hang: true });
  const error = await tokenError(client(options).auth.getToken());
  return [error.code, error.message.includes('timed out after 200 ms'), tokenCount()];
}

/** An endpoint answering 503 ten times: how many attempts one fetch makes. */
async function failingEndpoint(options: Options): Promise<unknown[]> {
  sandbox().token.enqueue({ status: 503, times: 10 });
  const error = await tokenError(client(options).auth.getToken());
  return [error.code, tokenCount()];
}

/** One 503, then a token: attempts after 1 s of real time, then after the fetch (the default backoff is 300 ms). */
async function oneFailure(options: Options): Promise<number[]> {
  sandbox().token.enqueue({ status: 503 });
  const fetched = client(options).auth.getToken();
  while (tokenCount() === 0) await realDelay(10); // bounded by the test's timeout
  await realDelay(1_000);
  const during = tokenCount();
  await fetched;
  return [during, tokenCount()];
}

/** `Retry-After: 2`: waited out (the default cap is 30 s) or refused with the cap as cooldown. */
async function retryAfterTwoSeconds(options: Options): Promise<unknown[]> {
  sandbox().token.enqueue({ status: 429, retryAfterMs: 2_000 });
  const api = client(options);
  const outcome = await api.auth.getToken().then(
    () => ['token'],
    (error: unknown) => [
      isServiceTitanAuthError(error) && error.code,
      isServiceTitanAuthError(error) && error.retryAfterMs,
    ],
  );
  const afterFirst = tokenCount();
  clock.advance(1_001);
  await api.auth.getToken();
  return [...outcome, afterFirst, tokenCount()];
}

/** A 429 without Retry-After, no retries: token requests 5 s and 7 s later. */
async function rateLimitedNoRetryAfter(options: Options): Promise<number[]> {
  sandbox().token.enqueue({ status: 429, retryAfterMs: 'absent' });
  const api = client(options);
  expect((await tokenError(api.auth.getToken())).code).toBe('rate_limited');
  clock.advance(5_001);
  await api.auth.getToken().catch(() => undefined);
  const at5s = tokenCount();
  clock.advance(2_000);
  await api.auth.getToken();
  return [at5s, tokenCount()];
}

/** A 503, no retries: token requests 2 s and 3 s later (the default cooldown is 1 s). */
async function failedOnce(options: Options): Promise<number[]> {
  sandbox().token.enqueue({ status: 503 });
  const api = client(options);
  await tokenError(api.auth.getToken());
  clock.advance(2_000);
  await api.auth.getToken().catch(() => undefined);
  const at2s = tokenCount();
  clock.advance(1_001);
  await api.auth.getToken();
  return [at2s, tokenCount()];
}

/** A wrong secret, tried 0, 1, 3 and 5 s in: cooldowns 1 s, 2 s, then 2 s capped (default: 4 s). */
async function wrongSecret(options: Options): Promise<number> {
  const api = client({ ...options, clientSecret: 'cs1.wrong-secret-0000000000' });
  for (const wait of [0, 1_001, 2_001, 2_001]) {
    clock.advance(wait);
    await tokenError(api.auth.getToken());
  }
  return tokenCount();
}

/** A limiter that counts the token fetches it runs (the default one is private to the handle). */
const countingLimiter = () => {
  const limit = pLimit(1);
  const calls: number[] = [];
  const limiter = ((fn: () => Promise<unknown>) => {
    calls.push(1);
    return limit(fn);
  }) as unknown as LimitFunction;
  return { limiter, calls };
};
const sharedLimiter = countingLimiter();
async function limitedFetch(options: Options): Promise<number[]> {
  sharedLimiter.calls.length = 0;
  await client(options).auth.getToken();
  return [sharedLimiter.calls.length, tokenCount()];
}

/** A locking store that records each lock's lifetime: the fleet wait (default 32 s). */
class LockRecordingStore extends MemoryTokenStore {
  readonly ttls: number[] = [];
  override acquireLock(key: string, ttlMs: number) {
    this.ttls.push(ttlMs);
    return super.acquireLock(key, ttlMs);
  }
}
async function fleetLock(options: Options): Promise<number[]> {
  const store = new LockRecordingStore();
  await client({ ...options, store }).auth.getToken();
  return store.ttls;
}

const cases: AliasCase[] = [
  {
    oldName: 'refreshBufferSeconds',
    old: { refreshBufferSeconds: 120 },
    new: { refreshBufferMs: 120_000 },
    expected: [1, 2],
    scenario: renewalAhead,
  },
  {
    oldName: 'tokenTimeoutMs',
    old: { tokenTimeoutMs: 200, tokenRetries: 0 },
    new: { tokenRequest: { timeoutMs: 200, retries: 0 } },
    expected: ['token_request_failed', true, 1],
    scenario: hangingEndpoint,
  },
  {
    oldName: 'tokenRetries',
    old: { tokenRetries: 4 },
    new: { tokenRequest: { retries: 4 } },
    expected: ['token_request_failed', 5],
    scenario: failingEndpoint,
  },
  {
    oldName: 'tokenRetryDelayMs',
    old: { tokenRetryDelayMs: 2_000 },
    new: { tokenRequest: { retryDelayMs: 2_000 } },
    expected: [1, 2],
    scenario: oneFailure,
  },
  {
    oldName: 'maxRetryAfterMs',
    old: { maxRetryAfterMs: 1_000 },
    new: { tokenRequest: { maxRetryAfterMs: 1_000 } },
    expected: ['rate_limited', 1_000, 1, 2],
    scenario: retryAfterTwoSeconds,
  },
  {
    oldName: 'rateLimitCooldownMs',
    old: { tokenRetries: 0, rateLimitCooldownMs: 7_000 },
    new: { tokenRequest: { retries: 0, rateLimitedCooldownMs: 7_000 } },
    expected: [1, 2],
    scenario: rateLimitedNoRetryAfter,
  },
  {
    oldName: 'failureCooldownMs',
    old: { tokenRetries: 0, failureCooldownMs: 3_000 },
    new: { tokenRequest: { retries: 0, failureCooldownMs: 3_000 } },
    expected: [1, 2],
    scenario: failedOnce,
  },
  {
    oldName: 'maxInvalidClientCooldownMs',
    old: { maxInvalidClientCooldownMs: 2_000 },
    new: { tokenRequest: { maxInvalidClientCooldownMs: 2_000 } },
    expected: 4,
    scenario: wrongSecret,
  },
  {
    oldName: 'tokenLimiter',
    old: { tokenLimiter: sharedLimiter.limiter },
    new: { tokenRequest: { limiter: sharedLimiter.limiter } },
    expected: [1, 1],
    scenario: limitedFetch,
  },
  {
    oldName: 'fleetWaitMs',
    old: { fleetWaitMs: 4_321 },
    new: { tokenRequest: { fleetWaitMs: 4_321 } },
    expected: [4_321],
    scenario: fleetLock,
  },
];

describe('every deprecated option name behaves as its new name, counted at the sandbox', () => {
  describe.each(cases)('$oldName', ({ oldName, old, new: renamed, expected, scenario }) => {
    test(`${oldName} (deprecated)`, async () => {
      expect(await scenario(old)).toEqual(expected);
    });
    test(DEPRECATED_OPTION_NAMES[oldName], async () => {
      expect(await scenario(renamed)).toEqual(expected);
    });
  });

  test('the table covers every deprecated name', () => {
    expect(cases.map((c) => c.oldName).sort()).toEqual(Object.keys(DEPRECATED_OPTION_NAMES).sort());
  });

  // The derived fleet wait is timeoutMs × (retries + 1) + 2 s, whichever names gave them.
  test.each<[string, Options]>([
    ['old names', { tokenTimeoutMs: 1_000, tokenRetries: 1 }],
    ['new names', { tokenRequest: { timeoutMs: 1_000, retries: 1 } }],
    ['old timeout, new retries', { tokenTimeoutMs: 1_000, tokenRequest: { retries: 1 } }],
    ['new timeout, old retries', { tokenRetries: 1, tokenRequest: { timeoutMs: 1_000 } }],
  ])('the derived fleet wait follows the resolved timeout and retries: %s', async (_name, options) => {
    expect(await fleetLock(options)).toEqual([4_000]);
  });

  test('the default fleet wait, for reference: 32 s', async () => {
    expect(await fleetLock({})).toEqual([32_000]);
  });
});

/** A valid value for each option, and one it refuses. */
const VALUES: Record<DeprecatedOptionName, { good: unknown; bad: unknown }> = {
  refreshBufferSeconds: { good: 1, bad: -1 },
  tokenTimeoutMs: { good: 1_000, bad: 0 },
  tokenRetries: { good: 1, bad: 1.5 },
  tokenRetryDelayMs: { good: 1, bad: -1 },
  maxRetryAfterMs: { good: 1, bad: Number.NaN },
  rateLimitCooldownMs: { good: 1, bad: -1 },
  failureCooldownMs: { good: 1, bad: '1000' },
  maxInvalidClientCooldownMs: { good: 1, bad: -1 },
  tokenLimiter: { good: pLimit(1), bad: 4 },
  fleetWaitMs: { good: 1, bad: 0 },
};

/** `{ [path]: value }`, nested for `tokenRequest.x`. */
function optionAt(path: string, value: unknown): Options {
  const [group, field] = path.split('.') as [string, string | undefined];
  return { [group]: field === undefined ? value : { [field]: value } } as Options;
}

function configError(options: Options): Error {
  const valid = { clientId: 'cid', clientSecret: 'cs1.secret', appKey: 'ak1', environment: 'integration' as const };
  try {
    attachServiceTitanAuth(axios.create(), { ...valid, ...options } as ServiceTitanAuthOptions);
  } catch (error) {
    expect(isServiceTitanAuthError(error) && error.code).toBe('invalid_config');
    return error as Error;
  }
  throw new Error('attach did not throw');
}

describe('old and new names in messages', () => {
  test.each(Object.entries(DEPRECATED_OPTION_NAMES) as [DeprecatedOptionName, string][])(
    '%s and %s together are invalid_config naming both',
    (oldName, newName) => {
      const { good } = VALUES[oldName];
      expect(configError({ [oldName]: good, ...optionAt(newName, good) }).message).toBe(
        `${oldName} and ${newName} are the same option (${oldName} is deprecated): set only ${newName}`,
      );
    },
  );

  test.each(Object.entries(DEPRECATED_OPTION_NAMES) as [DeprecatedOptionName, string][])(
    'a bad %s is named as the user wrote it; a bad %s by its new path',
    (oldName, newName) => {
      const { bad } = VALUES[oldName];
      expect(configError({ [oldName]: bad }).message).toMatch(new RegExp(`^${oldName} must be`));
      expect(configError(optionAt(newName, bad)).message).toMatch(
        new RegExp(`^${newName.replace('.', '\\.')} must be`),
      );
    },
  );

  test('tokenRequest.retries must be an integer >= 0', () => {
    expect(configError({ tokenRequest: { retries: -1 } }).message).toBe(
      'tokenRequest.retries must be an integer >= 0, got -1',
    );
  });
});
