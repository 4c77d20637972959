import pLimit from 'p-limit';
import {
  MemoryTokenStore,
  ServiceTitanAuthError,
  createTenantClients,
  type StoredToken,
  type TenantClientsOptions,
  type TokenLock,
  type TokenStore,
} from '../src';
import type { SandboxCredentials } from '../src/testing';
import { useSandbox } from './helpers/sandbox';

const tenantCount = 50;
const clients: SandboxCredentials[] = Array.from({ length: tenantCount }, (_, i) => ({
  clientId: `cid.tenant-${i + 1}`,
  clientSecret: `cs1.secret-${i + 1}`,
  tenantId: String(1000 + i),
}));

describe('createTenantClients: many tenants, one app', () => {
  const sandbox = useSandbox({ clients });
  const lookups: string[] = [];
  const credentials = async (tenantId: string) => {
    lookups.push(tenantId);
    const found = clients.find((c) => c.tenantId === tenantId);
    if (!found) throw new Error(`no credentials for tenant ${tenantId}`);
    return { clientId: found.clientId, clientSecret: found.clientSecret };
  };
  beforeEach(() => {
    lookups.length = 0;
  });
  /** Tenant clients of the sandbox's app with the credentials above, and what a test configures. */
  const tenantClients = (options: Partial<TenantClientsOptions> = {}) =>
    createTenantClients({ environment: sandbox().environment, appKey: sandbox().appKey, credentials, ...options });

  test('50 tenants cold: token requests never exceed the shared limiter at once; each tenant uses its own token', async () => {
    const tenants = tenantClients({
      tokenConcurrency: 4,
    });
    sandbox().token.enqueue({ delayMs: 20, times: tenantCount });
    await Promise.all(
      clients.map(async ({ tenantId }) => {
        const client = await tenants.forTenant(tenantId);
        await Promise.all([
          client.get('/crm/v2/tenant/{tenant}/customers'),
          client.get('/crm/v2/tenant/{tenant}/customers'),
        ]);
      }),
    );
    expect(sandbox().token.count).toBe(tenantCount);
    expect(sandbox().token.maxInFlight).toBeLessThanOrEqual(4);
    expect(sandbox().token.maxInFlight).toBeGreaterThanOrEqual(2);
    expect(sandbox().api.count).toBe(2 * tenantCount);
    expect(sandbox().api.requests.every((r) => r.status === 200)).toBe(true);
    expect(tenants.tenants).toHaveLength(tenantCount);
  });

  test('one client per tenant: concurrent forTenant calls share one lookup', async () => {
    const tenants = tenantClients();
    const [a, b] = await Promise.all([tenants.forTenant(1000), tenants.forTenant('1000')]);
    expect(a).toBe(b);
    expect(lookups).toEqual(['1000']);
    expect(tenants.forget(1000)).toBe(true);
    expect(await tenants.forTenant(1000)).not.toBe(a);
  });

  test('a failed lookup is not cached', async () => {
    let fail = true;
    const tenants = createTenantClients({
      environment: sandbox().environment,
      appKey: sandbox().appKey,
      credentials: async (tenantId) => {
        if (fail) throw new Error('vault unavailable');
        return credentials(tenantId);
      },
    });
    await expect(tenants.forTenant(1001)).rejects.toThrow('vault unavailable');
    fail = false;
    await expect(tenants.forTenant(1001)).resolves.toBeDefined();
  });

  test('a shared store is used by every tenant', async () => {
    const store = new MemoryTokenStore();
    const tenants = tenantClients({
      store,
    });
    await (await tenants.forTenant(1000)).auth.getToken();
    await (await tenants.forTenant(1001)).auth.getToken();
    expect(store.size).toBe(2);
  });

  // Issue 19 item 8: tokenRequest reaches every tenant's client, while the limiter stays the
  // shared one of tokenConcurrency (a limiter given anyway, untyped, is replaced as it always was).
  test('tokenRequest options reach every tenant; the token slot stays shared', async () => {
    const tenants = tenantClients({
      tokenConcurrency: 1,
      tokenRequest: { retries: 3, retryDelayMs: 1 },
      ...({ tokenLimiter: pLimit(100) } as object),
    });
    const first = clients[0]!;
    sandbox().token.enqueue({ status: 503, times: 10, match: (r) => r.clientId === first.clientId });
    const failed = await (await tenants.forTenant(first.tenantId)).auth.getToken().catch((e: unknown) => e);
    expect(failed).toBeInstanceOf(ServiceTitanAuthError);
    expect(sandbox().token.count).toBe(4); // 1 + tokenRequest.retries

    sandbox().token.enqueue({ delayMs: 20, times: 10 });
    await Promise.all(
      clients.slice(1, 11).map(async ({ tenantId }) => (await tenants.forTenant(tenantId)).auth.getToken()),
    );
    expect(sandbox().token.count).toBe(14);
    expect(sandbox().token.maxInFlight).toBe(1);
  });

  // Issue 18 item 3: the slot bounds token requests at the endpoint; writing the token to the
  // store is not one. Held, the write kept the slot: at tokenConcurrency 4 over 2,000 tenants
  // each slot's store round trip lengthened the cold start's critical path by a third.
  test('the token slot goes to the next tenant while a token is written to the store; the request waits for the write', async () => {
    const [a, b] = clients as [SandboxCredentials, SandboxCredentials];
    let releaseWrite!: () => void;
    const writeHeld = new Promise<void>((resolve) => (releaseWrite = resolve));
    const writesStarted: string[] = [];
    /** A MemoryTokenStore whose writes wait for the test (one round trip to a slow Redis, held). */
    class HeldWriteStore extends MemoryTokenStore {
      override async set(key: string, token: StoredToken): Promise<void> {
        writesStarted.push(key);
        await writeHeld;
        return super.set(key, token);
      }
      override async acquireLock(key: string, ttlMs: number): Promise<TokenLock | undefined> {
        const lock = await super.acquireLock(key, ttlMs);
        if (lock === undefined) return undefined;
        return {
          release: () => lock.release(),
          storeAndRelease: async (token) => {
            writesStarted.push(key);
            await writeHeld;
            return lock.storeAndRelease!(token);
          },
        };
      }
    }
    const store = new HeldWriteStore();
    const tenants = tenantClients({
      store,
      tokenConcurrency: 1,
    });
    const [clientA, clientB] = await Promise.all([tenants.forTenant(a.tenantId), tenants.forTenant(b.tenantId)]);
    const bAtEndpoint = sandbox().token.hold((r) => r.clientId === b.clientId);
    let aSettled = false;
    const tokenA = clientA.auth.getToken().finally(() => (aSettled = true));
    const tokenB = clientB.auth.getToken();
    // A's token is being written (held) when B's token request reaches the endpoint.
    await bAtEndpoint.untilWaiting(1, { timeoutMs: 10_000 });
    expect(writesStarted).toHaveLength(1);
    expect(store.size).toBe(0);
    expect(aSettled).toBe(false); // a caller gets its token once it is in the store
    bAtEndpoint.release();
    releaseWrite();
    await Promise.all([tokenA, tokenB]);
    expect(store.size).toBe(2);
    expect(sandbox().token.count).toBe(2);
    expect(sandbox().token.maxInFlight).toBe(1);
  });

  // With the place freed before the write, a store without storeAndRelease must still release
  // the fleet lock after the token is written: a waiter woken by the release reads the store.
  test('a store without storeAndRelease: the fleet lock is released after the token is written', async () => {
    const steps: [key: string, step: string][] = [];
    const memory = new MemoryTokenStore();
    /** A fleet store of the TokenStore contract without getOrLock and storeAndRelease. */
    const store: TokenStore = {
      get: (key) => memory.get(key),
      delete: (key) => memory.delete(key),
      waitForToken: (key, options) => memory.waitForToken(key, options),
      async set(key, token) {
        await new Promise((resolve) => setImmediate(resolve)); // a write that takes a turn of the loop
        steps.push([key, 'set']);
        return memory.set(key, token);
      },
      async acquireLock(key, ttlMs) {
        const lock = await memory.acquireLock(key, ttlMs);
        if (lock === undefined) return undefined;
        steps.push([key, 'lock']);
        return {
          release: async () => {
            steps.push([key, 'release']);
            return lock.release();
          },
        };
      },
    };
    const tenants = tenantClients({
      store,
      tokenConcurrency: 1,
    });
    const [a, b] = clients as [SandboxCredentials, SandboxCredentials];
    await Promise.all([a, b].map(async ({ tenantId }) => (await tenants.forTenant(tenantId)).auth.getToken()));
    const keys = [...new Set(steps.map(([key]) => key))];
    expect(keys).toHaveLength(2);
    for (const key of keys) {
      expect(steps.filter(([k]) => k === key).map(([, step]) => step)).toEqual(['lock', 'set', 'release']);
    }
    expect(sandbox().token.count).toBe(2);
  });

  test('bad options fail at creation, naming the option', () => {
    expect(() =>
      createTenantClients({
        environment: sandbox().environment,
        appKey: sandbox().appKey,
        credentials: undefined as never,
      }),
    ).toThrow(/credentials must be a function/);
    expect(() =>
      tenantClients({
        tokenConcurrency: 0,
      }),
    ).toThrow(/tokenConcurrency/);
    expect(() => createTenantClients({ environment: 'staging' as never, appKey: 'k', credentials })).toThrow(
      ServiceTitanAuthError,
    );
  });
  // Issue 18: a token slot is for a request to the endpoint. A process that found another one
  // fetching a tenant's token waited for it holding its slot (up to fleetWaitMs, 32 s); on a
  // fleet's cold start most tenants are being fetched by another worker.
  describe('fleet waits and token slots', () => {
    /** A MemoryTokenStore that records its getOrLock calls in order. */
    class CountingStore extends MemoryTokenStore {
      readonly checks: string[] = [];
      #checked = new Map<number, () => void>();
      /** Resolves once `count` store checks were made. */
      checked(count: number): Promise<void> {
        if (this.checks.length >= count) return Promise.resolve();
        return new Promise((resolve) => this.#checked.set(count, resolve));
      }
      override async getOrLock(key: string, ttlMs: number) {
        this.checks.push(key);
        this.#checked.get(this.checks.length)?.();
        return super.getOrLock(key, ttlMs);
      }
    }

    /** Rejects after `ms`: a bound on a wait the code under test must end on its own. */
    const within = <T>(promise: Promise<T>, ms: number, what: string) =>
      Promise.race([
        promise,
        new Promise<never>((_, reject) =>
          setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms).unref(),
        ),
      ]);

    test("waiting for another process's token holds no token slot: the next tenant's token request goes out meanwhile", async () => {
      const store = new CountingStore();
      const [x, y] = clients as [SandboxCredentials, SandboxCredentials];
      // Two processes of a fleet: one store, a token limiter of one each.
      const processes = [1, 2].map(() =>
        tenantClients({
          store,
          tokenConcurrency: 1,
        }),
      );
      const [first, second] = processes as [(typeof processes)[0], (typeof processes)[0]];
      const xAtEndpoint = sandbox().token.hold((r) => r.clientId === x.clientId);
      const xByFirst = (await first.forTenant(x.tenantId)).auth.getToken();
      await xAtEndpoint.untilWaiting(1, { timeoutMs: 10_000 });
      // The second process finds x's lock held by the first and waits for its token…
      const xBySecond = (await second.forTenant(x.tenantId)).auth.getToken();
      await within(store.checked(2), 5_000, "the second process's store check for x");
      // …while its only token slot serves y (on the old code, the wait held the slot for up to
      // fleetWaitMs, 32 s).
      const yBySecond = (await second.forTenant(y.tenantId)).auth.getToken();
      await within(yBySecond, 5_000, "y's token");
      expect(sandbox().token.requests.map((r) => r.clientId)).toEqual([x.clientId, y.clientId]);
      xAtEndpoint.release();
      const [tokenX1, tokenX2] = await Promise.all([xByFirst, xBySecond]);
      expect(tokenX2).toBe(tokenX1); // one fetch of x for the fleet
      expect(sandbox().token.count).toBe(2);
    });
  });
});
