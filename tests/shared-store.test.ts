import { MemoryTokenStore, createServiceTitanClient, type ServiceTitanClient, type TokenStore } from '../src';
import { tokenStoreKey } from '../src/token/store-key';
import { authOptions, customersPath, useFakeClock, useSandbox } from './helpers/sandbox';
import type { Sandbox } from '../src/testing';

// Several clients with the same credentials and one shared store stand for a fleet of
// processes (each client has its own cache and its own single flight); the store's lock makes
// them fetch one token between them. The Redis store runs the same scenario across processes.
function fleet(sandbox: Sandbox, store: TokenStore, size = 4): ServiceTitanClient[] {
  return Array.from({ length: size }, () =>
    createServiceTitanClient({ ...authOptions(sandbox, { store }), rateLimit: false }),
  );
}

const burst = (clients: ServiceTitanClient[], sandbox: Sandbox, perClient = 25) =>
  Promise.all(clients.flatMap((client) => Array.from({ length: perClient }, () => client.get(customersPath(sandbox)))));

describe('a shared store with a lock: one token fetch for the whole fleet', () => {
  const sandbox = useSandbox();

  test('4 clients × 25 concurrent cold requests → exactly one token request', async () => {
    const clients = fleet(sandbox(), new MemoryTokenStore());
    const hold = sandbox().token.hold();
    const requests = burst(clients, sandbox());
    await hold.untilWaiting(1);
    hold.release();
    const responses = await requests;
    expect(responses.every((r) => r.status === 200)).toBe(true);
    expect(sandbox().token.count).toBe(1);
    expect(sandbox().tokensSeen).toEqual(['tok-1']);
  });

  test('a revocation hitting every client costs one renewal, not one per client', async () => {
    const clients = fleet(sandbox(), new MemoryTokenStore());
    await burst(clients, sandbox(), 2);
    sandbox().revokeAllTokens();
    const responses = await burst(clients, sandbox());
    expect(responses.every((r) => r.status === 200)).toBe(true);
    expect(sandbox().token.count).toBe(2);
    expect(sandbox().tokensSeen).toEqual(['tok-1', 'tok-2']);
  });

  test('a holder that never publishes: waiters fetch themselves after tokenRequest.fleetWaitMs, nobody hangs', async () => {
    const store = new MemoryTokenStore();
    const clients = Array.from({ length: 3 }, () =>
      createServiceTitanClient({
        ...authOptions(sandbox(), { store, tokenRequest: { fleetWaitMs: 200 } }),
        rateLimit: false,
      }),
    );
    // A "dead process" holds the fetch lock for this client's key and never releases it.
    await store.acquireLock(await tokenStoreKey(sandbox().authUrl, sandbox().clientId, sandbox().clientSecret), 60_000);
    const started = Date.now();
    const responses = await burst(clients, sandbox(), 5);
    expect(responses.every((r) => r.status === 200)).toBe(true);
    expect(Date.now() - started).toBeGreaterThanOrEqual(200);
    // Each waiter gave up and fetched on its own: at most one per client.
    expect(sandbox().token.count).toBeLessThanOrEqual(3);
  });

  test('a store that fails degrades to per-client fetching, with one warning per client', async () => {
    const broken: TokenStore = {
      get: () => Promise.reject(new Error('ECONNREFUSED')),
      set: () => Promise.reject(new Error('ECONNREFUSED')),
      delete: () => Promise.reject(new Error('ECONNREFUSED')),
      acquireLock: () => Promise.reject(new Error('ECONNREFUSED')),
      waitForToken: () => Promise.reject(new Error('ECONNREFUSED')),
    };
    const warnings: string[] = [];
    const clients = Array.from({ length: 2 }, () =>
      createServiceTitanClient({
        ...authOptions(sandbox(), { store: broken, logger: { warn: (m) => warnings.push(m) } }),
        rateLimit: false,
      }),
    );
    const responses = await burst(clients, sandbox(), 10);
    expect(responses.every((r) => r.status === 200)).toBe(true);
    expect(sandbox().token.count).toBe(2);
    expect(warnings.filter((w) => w.startsWith('token store failed'))).toHaveLength(2);
  });
});

describe('a store that is down is left alone for a while', () => {
  const sandbox = useSandbox();
  const clock = useFakeClock();

  test('after a failure the store is skipped for 5 s (no timeout paid per fetch), then tried again', async () => {
    let calls = 0;
    const fail = () => {
      calls += 1;
      return Promise.reject(new Error('ETIMEDOUT'));
    };
    const broken: TokenStore = { get: fail, set: fail, delete: fail, acquireLock: fail, waitForToken: fail };
    const client = createServiceTitanClient(authOptions(sandbox(), { store: broken }));
    await client.auth.getToken();
    expect(calls).toBe(1);
    await client.auth.invalidate();
    await client.auth.getToken({ forceRefresh: true });
    expect(calls).toBe(1);
    expect(sandbox().token.count).toBe(2);

    clock.advance(5_001);
    await client.auth.getToken({ forceRefresh: true });
    expect(calls).toBe(2);
    expect(sandbox().token.count).toBe(3);
  });
});
