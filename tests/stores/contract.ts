import { randomBytes } from 'node:crypto';
import { createServiceTitanClient, isServiceTitanAuthError } from '../../src';
import type { StoredToken, TokenStore } from '../../src/stores/types';
import { authOptions, customersPath, useSandbox } from '../helpers/sandbox';

/** A store with the optional fleet methods, as the contract suite needs it. */
export type FleetStore = Required<Omit<TokenStore, 'bindClientSecret'>>;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A fresh key per test, shaped like the provider's (so stores cannot share state by accident). */
const freshKey = () => `servicetitan-token:${randomBytes(16).toString('hex')}`;

function token(accessToken: string, lifetimeMs = 60_000): StoredToken {
  const now = Date.now();
  return { accessToken, obtainedAt: now, expiresAt: now + lifetimeMs, scope: 'tn.crm.customers:r' };
}

/**
 * The TokenStore contract, the same for every store: what the token provider relies on
 * (tests/shared-store.test.ts in one process, tests/stores/fleet.test.ts across processes).
 * `makeStore` is called per test; a second call must give a view of the same storage (another
 * process's store).
 */
export function tokenStoreContract(name: string, makeStore: () => FleetStore): void {
  describe(`${name}: the TokenStore contract`, () => {
    let store: FleetStore;
    let key: string;
    beforeEach(() => {
      store = makeStore();
      key = freshKey();
    });

    describe('get / set / delete', () => {
      test('a missing key is undefined', async () => {
        await expect(store.get(key)).resolves.toBeUndefined();
      });

      test('set then get returns the token, for every view of the store', async () => {
        const stored = token('tok-a');
        await store.set(key, stored);
        await expect(store.get(key)).resolves.toEqual(stored);
        await expect(makeStore().get(key)).resolves.toEqual(stored);
      });

      test('a token without scope round-trips without one', async () => {
        const { scope: _scope, ...stored } = token('tok-a');
        await store.set(key, stored);
        await expect(store.get(key)).resolves.toEqual(stored);
      });

      test('set replaces the token', async () => {
        await store.set(key, token('tok-a'));
        await store.set(key, token('tok-b'));
        await expect(store.get(key)).resolves.toMatchObject({ accessToken: 'tok-b' });
      });

      test('delete forgets the token, and only that key', async () => {
        const other = freshKey();
        await store.set(key, token('tok-a'));
        await store.set(other, token('tok-b'));
        await store.delete(key);
        await expect(store.get(key)).resolves.toBeUndefined();
        await expect(store.get(other)).resolves.toMatchObject({ accessToken: 'tok-b' });
        await expect(store.delete(freshKey())).resolves.toBeUndefined();
      });

      // Lifetimes and TTLs here are 1 s, and the test sleeps past the expiry it computed: with
      // 100-150 ms, a busy machine (load 13-17 on 2 cores) let that much pass between the write
      // and the read that must still find it.
      test('an entry expires with its token', async () => {
        const stored = token('tok-a', 1_000);
        await store.set(key, stored);
        await expect(store.get(key)).resolves.toMatchObject({ accessToken: 'tok-a' });
        await sleep(stored.expiresAt + 50 - Date.now());
        await expect(store.get(key)).resolves.toBeUndefined();
      });

      test('an already expired token is not returned', async () => {
        await store.set(key, { accessToken: 'tok-a', obtainedAt: Date.now() - 2_000, expiresAt: Date.now() - 1_000 });
        await expect(store.get(key)).resolves.toBeUndefined();
      });
    });

    describe('acquireLock: fleet-wide single flight', () => {
      test('only one holder at a time, across views of the store; other keys are independent', async () => {
        const lock = await store.acquireLock(key, 5_000);
        expect(lock).toBeDefined();
        await expect(store.acquireLock(key, 5_000)).resolves.toBeUndefined();
        await expect(makeStore().acquireLock(key, 5_000)).resolves.toBeUndefined();
        const other = await store.acquireLock(freshKey(), 5_000);
        expect(other).toBeDefined();
        await lock!.release();
        await other!.release();
      });

      test('many concurrent attempts: exactly one wins', async () => {
        const attempts = await Promise.all(Array.from({ length: 20 }, () => makeStore().acquireLock(key, 5_000)));
        expect(attempts.filter((lock) => lock !== undefined)).toHaveLength(1);
      });

      test('release frees it', async () => {
        const lock = await store.acquireLock(key, 5_000);
        await lock!.release();
        const next = await store.acquireLock(key, 5_000);
        expect(next).toBeDefined();
        await next!.release();
      });

      test('the lock expires by itself after its TTL (a holder that died)', async () => {
        expect(await store.acquireLock(key, 1_000)).toBeDefined();
        const acquired = Date.now();
        await expect(store.acquireLock(key, 1_000)).resolves.toBeUndefined();
        await sleep(acquired + 1_050 - Date.now());
        await expect(store.acquireLock(key, 5_000)).resolves.toBeDefined();
      });

      test('only the holder releases: a late release by an expired holder frees nothing', async () => {
        const first = await store.acquireLock(key, 100);
        await sleep(200);
        const second = await makeStore().acquireLock(key, 5_000);
        expect(second).toBeDefined();
        await first!.release();
        await expect(store.acquireLock(key, 5_000)).resolves.toBeUndefined();
        await second!.release();
        await expect(store.acquireLock(key, 5_000)).resolves.toBeDefined();
      });
    });

    describe('getOrLock: the token, or the lock, in one step', () => {
      test('a stored token is returned and no lock is taken', async () => {
        const stored = token('tok-a');
        await store.set(key, stored);
        await expect(makeStore().getOrLock(key, 5_000)).resolves.toEqual({ token: stored });
        const lock = await store.acquireLock(key, 5_000);
        expect(lock).toBeDefined();
        await lock!.release();
      });

      test('without a token: exactly one of many concurrent callers gets the lock, across views', async () => {
        const outcomes = await Promise.all(Array.from({ length: 20 }, () => makeStore().getOrLock(key, 5_000)));
        expect(outcomes.every((outcome) => outcome.token === undefined)).toBe(true);
        expect(outcomes.filter((outcome) => outcome.lock !== undefined)).toHaveLength(1);
        await expect(store.acquireLock(key, 5_000)).resolves.toBeUndefined();
      });

      test('its lock is a lock like acquireLock’s: released, it frees the key; it expires after its TTL', async () => {
        const { lock } = await store.getOrLock(key, 5_000);
        await lock!.release();
        const again = await makeStore().getOrLock(key, 1_000);
        expect(again.lock).toBeDefined();
        const taken = Date.now();
        await expect(store.acquireLock(key, 5_000)).resolves.toBeUndefined();
        await sleep(taken + 1_050 - Date.now());
        await expect(store.getOrLock(key, 5_000)).resolves.toEqual({ lock: expect.anything() });
      });
    });

    describe('storeAndRelease: the holder stores its token and releases in one step', () => {
      test('stores the token for every view and frees the lock; release afterwards frees nothing', async () => {
        const { lock } = await store.getOrLock(key, 5_000);
        const stored = token('tok-a');
        await lock!.storeAndRelease!(stored);
        await expect(makeStore().get(key)).resolves.toEqual(stored);
        const next = await makeStore().acquireLock(key, 5_000);
        expect(next).toBeDefined();
        await lock!.release();
        await expect(store.acquireLock(key, 5_000)).resolves.toBeUndefined();
        await next!.release();
      });

      test('a waiter resolves with the token at once', async () => {
        const lock = await store.acquireLock(key, 5_000);
        const wait = makeStore().waitForToken(key, { timeoutMs: 5_000 });
        await sleep(100);
        const started = Date.now();
        const stored = token('tok-a');
        await lock!.storeAndRelease!(stored);
        await expect(wait).resolves.toEqual(stored);
        expect(Date.now() - started).toBeLessThan(1_000);
      });

      test('an expired holder stores its token but frees nobody else’s lock', async () => {
        const first = await store.acquireLock(key, 100);
        await sleep(200);
        const second = await makeStore().acquireLock(key, 5_000);
        const stored = token('tok-a');
        await first!.storeAndRelease!(stored);
        await expect(store.get(key)).resolves.toEqual(stored);
        await expect(store.acquireLock(key, 5_000)).resolves.toBeUndefined();
        await second!.release();
      });
    });

    describe('waitForToken', () => {
      test('resolves at once when a token is already stored', async () => {
        const stored = token('tok-a');
        await store.set(key, stored);
        const started = Date.now();
        await expect(store.waitForToken(key, { timeoutMs: 5_000 })).resolves.toEqual(stored);
        expect(Date.now() - started).toBeLessThan(1_000);
      });

      test('resolves as soon as a token is set, in every waiting view', async () => {
        const waits = [store, makeStore(), makeStore()].map((view) => view.waitForToken(key, { timeoutMs: 5_000 }));
        await sleep(100);
        const started = Date.now();
        const stored = token('tok-a');
        await makeStore().set(key, stored);
        await expect(Promise.all(waits)).resolves.toEqual([stored, stored, stored]);
        expect(Date.now() - started).toBeLessThan(1_000);
      });

      test('ignores the `except` token, stored or set, and resolves with the next one', async () => {
        await store.set(key, token('tok-rejected'));
        let settled = false;
        const wait = store.waitForToken(key, { timeoutMs: 5_000, except: 'tok-rejected' }).finally(() => {
          settled = true;
        });
        await sleep(100);
        expect(settled).toBe(false);
        const renewed = token('tok-new');
        await makeStore().set(key, renewed);
        await expect(wait).resolves.toEqual(renewed);
      });

      test('resolves undefined when the lock is released without a token', async () => {
        const lock = await store.acquireLock(key, 5_000);
        // lockSeenHeld, as the library waits: a release before the store listens is seen too
        // (without it, on a loaded machine the release once came before the subscription and
        // the wait lasted 4.9 s).
        const wait = makeStore().waitForToken(key, { timeoutMs: 5_000, lockSeenHeld: true });
        await sleep(100);
        const started = Date.now();
        await lock!.release();
        await expect(wait).resolves.toBeUndefined();
        expect(Date.now() - started).toBeLessThan(1_000);
      });

      test('lockSeenHeld: a lock released before the wait began ends it at once (nothing left to announce)', async () => {
        const lock = await store.acquireLock(key, 5_000);
        await lock!.release();
        const started = Date.now();
        await expect(makeStore().waitForToken(key, { timeoutMs: 5_000, lockSeenHeld: true })).resolves.toBeUndefined();
        expect(Date.now() - started).toBeLessThan(1_000);
      });

      test('lockSeenHeld: a lock still held keeps the wait until its token', async () => {
        const lock = await store.acquireLock(key, 5_000);
        let settled = false;
        const wait = makeStore()
          .waitForToken(key, { timeoutMs: 5_000, lockSeenHeld: true })
          .finally(() => (settled = true));
        await sleep(150);
        expect(settled).toBe(false);
        const stored = token('tok-a');
        await store.set(key, stored);
        await lock!.release();
        await expect(wait).resolves.toEqual(stored);
      });

      test('resolves with the token when the holder stores one and releases', async () => {
        const lock = await store.acquireLock(key, 5_000);
        const wait = makeStore().waitForToken(key, { timeoutMs: 5_000 });
        await sleep(100);
        const stored = token('tok-a');
        await store.set(key, stored);
        await lock!.release();
        await expect(wait).resolves.toEqual(stored);
      });

      test('resolves undefined after timeoutMs when nothing happens', async () => {
        const started = Date.now();
        await expect(store.waitForToken(key, { timeoutMs: 150 })).resolves.toBeUndefined();
        expect(Date.now() - started).toBeGreaterThanOrEqual(140);
      });

      test('a token set under another key does not end the wait', async () => {
        const wait = store.waitForToken(key, { timeoutMs: 300 });
        await sleep(50);
        await makeStore().set(freshKey(), token('tok-other'));
        await expect(wait).resolves.toBeUndefined();
      });
    });
    describe('G14: a stored token is served only to a client that holds the same secret', () => {
      const sandbox = useSandbox();
      const client = (view: TokenStore, clientSecret = sandbox().clientSecret) =>
        createServiceTitanClient({ ...authOptions(sandbox(), { store: view, clientSecret }), rateLimit: false });

      test('the right client id with a wrong secret misses the entry and is rejected by ServiceTitan', async () => {
        expect((await client(store).get(customersPath(sandbox()))).status).toBe(200);
        const wrong = client(makeStore(), `${sandbox().clientSecret}-rotated`);
        const error = await wrong.get(customersPath(sandbox())).catch((e: unknown) => e);
        expect(isServiceTitanAuthError(error) && error.code).toBe('invalid_client');
        expect(sandbox().token.count).toBe(2); // its own request, refused
        expect(sandbox().api.count).toBe(1); // the other client's token never left the store
      });

      test('clients holding the same secret share one entry, across views of the store', async () => {
        expect((await client(store).get(customersPath(sandbox()))).status).toBe(200);
        expect((await client(makeStore()).get(customersPath(sandbox()))).status).toBe(200);
        expect(sandbox().token.count).toBe(1);
        expect(sandbox().api.requests.map((r) => r.tokenId)).toEqual(['tok-1', 'tok-1']);
      });
    });
  });
}
