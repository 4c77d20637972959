import axios from 'axios';
import { attachServiceTitanAuth, createServiceTitanClient, MemoryTokenStore } from '../src';
import { tokenStoreKey } from '../src/token/store-key';
import { authOptions, customersPath, useFakeClock, useSandbox } from './helpers/sandbox';
import { tokenError } from './helpers/token-error';

/** Lets the fake clock run (50 ms per 10 ms) while `pending` settles: fleet waits are measured on Date. */
async function withClockRunning<T>(pending: Promise<T>, advance: (ms: number) => void): Promise<T> {
  const ticker = setInterval(() => advance(50), 10);
  try {
    return await pending;
  } finally {
    clearInterval(ticker);
  }
}

/** The cooldowns after rejections in a row: 1 s doubling, capped at 5 minutes. */
const EXPECTED_COOLDOWNS_MS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300].map((s) => s * 1_000);

describe('rejected credentials back off exponentially (invalid_client)', () => {
  const sandbox = useSandbox();
  const clock = useFakeClock();

  test('a wrong secret: cooldowns of 1 s, 2 s, 4 s … capped at 5 min, failing fast in between', async () => {
    const client = createServiceTitanClient(authOptions(sandbox(), { clientSecret: 'cs1.wrong-secret-0000000000' }));
    let error = await tokenError(client.get(customersPath(sandbox())));
    expect(error.code).toBe('invalid_client');
    let expectedRequests = 1;
    for (const cooldownMs of EXPECTED_COOLDOWNS_MS) {
      clock.advance(cooldownMs - 1);
      const during = await Promise.all(Array.from({ length: 5 }, () => tokenError(client.auth.getToken())));
      for (const failed of during) expect(failed).toBe(error);
      expect(sandbox().token.count).toBe(expectedRequests);
      clock.advance(2);
      error = await tokenError(client.get(customersPath(sandbox())));
      expect(error.code).toBe('invalid_client');
      expectedRequests += 1;
      expect(sandbox().token.count).toBe(expectedRequests);
    }
    expect(sandbox().api.count).toBe(0);
  });

  test('a token obtained resets the backoff to tokenRequest.failureCooldownMs', async () => {
    const client = createServiceTitanClient(authOptions(sandbox()));
    sandbox().token.enqueue({ status: 401, times: 3 });
    for (const wait of [0, 1_001, 2_001]) {
      clock.advance(wait);
      expect((await tokenError(client.auth.getToken())).code).toBe('invalid_client');
    }
    clock.advance(4_001);
    await expect(client.auth.getToken()).resolves.toEqual(expect.any(String));
    expect(sandbox().token.count).toBe(4);

    sandbox().token.enqueue({ status: 401 });
    expect((await tokenError(client.auth.getToken({ forceRefresh: true }))).code).toBe('invalid_client');
    clock.advance(1_001); // 1 s again, not the 8 s the streak would have reached
    await expect(client.auth.getToken({ forceRefresh: true })).resolves.toEqual(expect.any(String));
    expect(sandbox().token.count).toBe(6);
  });

  test.each([-1, Number.NaN, '300000'])('maxInvalidClientCooldownMs %p is refused at attach, naming it', (bad) => {
    const attach = () =>
      attachServiceTitanAuth(axios.create(), {
        ...authOptions(sandbox()),
        tokenRequest: { maxInvalidClientCooldownMs: bad as number },
      });
    expect(attach).toThrow(expect.objectContaining({ code: 'invalid_config' }));
    expect(attach).toThrow(/tokenRequest\.maxInvalidClientCooldownMs/);
  });

  test('maxInvalidClientCooldownMs caps the backoff', async () => {
    const client = createServiceTitanClient(
      authOptions(sandbox(), {
        clientSecret: 'cs1.wrong-secret-0000000000',
        tokenRequest: { maxInvalidClientCooldownMs: 3_000 },
      }),
    );
    for (const wait of [0, 1_001, 2_001, 3_001, 3_001]) {
      clock.advance(wait);
      await tokenError(client.auth.getToken());
    }
    expect(sandbox().token.count).toBe(5);
    clock.advance(2_998);
    await tokenError(client.auth.getToken());
    expect(sandbox().token.count).toBe(5);
  });

  test('the fleet path (shared store, its lock held by a dead holder) does not bypass the backoff', async () => {
    const store = new MemoryTokenStore();
    const options = authOptions(sandbox(), {
      store,
      tokenRequest: { fleetWaitMs: 100 },
      clientSecret: 'cs1.wrong-secret-0000000000',
    });
    await store.acquireLock(await tokenStoreKey(sandbox().authUrl, options.clientId, options.clientSecret), 3_600_000);
    const client = createServiceTitanClient(options);
    // Waits out fleetWaitMs for the holder, then fetches itself: rejected.
    const first = await withClockRunning(tokenError(client.get(customersPath(sandbox()))), clock.advance);
    expect(first.code).toBe('invalid_client');
    clock.advance(1_001);
    const second = await withClockRunning(tokenError(client.get(customersPath(sandbox()))), clock.advance);
    expect(second).not.toBe(first);
    expect(sandbox().token.count).toBe(2);
    // Now 2 s: a burst within it fails fast, without waiting for the lock or fetching.
    clock.advance(1_500);
    const burst = await Promise.all(Array.from({ length: 10 }, () => tokenError(client.auth.getToken())));
    expect(new Set(burst).size).toBe(1);
    expect(sandbox().token.count).toBe(2);
  });
});
