import { randomBytes } from 'node:crypto';
import { Cluster } from 'ioredis';
import { createServiceTitanClient } from '../../src';
import { RedisRateLimitStore, RedisTokenStore } from '../../src/redis';
import { startSandbox, type Sandbox } from '../../src/testing';
import { tokenStoreKey } from '../../src/token/store-key';
import { describeWithRedisCluster, useRedisCluster } from '../helpers/redis-cluster';
import { startSlowConnectProxy, type SlowConnectProxy } from '../helpers/slow-connect-proxy';
import { manyTenants } from '../helpers/tenants';
import { tokenStoreContract } from './contract';

const encryptionKey = randomBytes(32);

// Issue 18 item 4: both stores on a real 3-master Redis Cluster (ioredis `Cluster`).
describeWithRedisCluster('RedisTokenStore and RedisRateLimitStore on a 3-master Redis Cluster', () => {
  const cluster = useRedisCluster();
  const clients: Cluster[] = [];
  const stores: RedisTokenStore[] = [];

  /** A Cluster client of its own, as another process would have. */
  const connect = (nodes = cluster().nodes, options: ConstructorParameters<typeof Cluster>[1] = {}) => {
    const client = new Cluster([...nodes], options);
    client.on('error', () => undefined);
    clients.push(client);
    return client;
  };
  // The contract makes many views at once (20 in one test): they share connected clients, as
  // the processes of a running fleet would have theirs, so no command waits for a set-up.
  const connected: Cluster[] = [];
  beforeAll(async () => {
    for (let index = 0; index < 3; index += 1) {
      const client = new Cluster([...cluster().nodes]);
      client.on('error', () => undefined);
      connected.push(client);
      await client.ping();
      await Promise.all(client.nodes('master').map((node) => node.ping()));
    }
  });
  afterAll(() => {
    for (const client of connected.splice(0)) client.disconnect();
  });
  let views = 0;
  const nextConnected = () => connected[(views += 1) % connected.length]!;
  const makeStore = (client = nextConnected()) => {
    const store = new RedisTokenStore(client, { encryptionKey, commandTimeoutMs: 2_000 });
    stores.push(store);
    return store;
  };

  afterEach(async () => {
    await Promise.all(stores.splice(0).map((store) => store.close()));
    for (const client of clients.splice(0)) client.disconnect();
  });

  tokenStoreContract('RedisTokenStore on a Redis Cluster', () => makeStore());

  test("each client's token and lock share one slot, and clients spread over the three masters", async () => {
    const client = connect();
    const store = new RedisTokenStore(client, { commandTimeoutMs: 2_000 });
    stores.push(store);
    const mastersUsed = new Set<string>();
    const now = Date.now();
    for (let index = 0; index < 30; index += 1) {
      const secret = `cs1.${randomBytes(24).toString('hex')}`;
      const key = await tokenStoreKey('https://auth.example/connect/token', `cid.${index}`, secret);
      store.bindClientSecret(key, secret);
      await store.set(key, { accessToken: `tok-${index}`, obtainedAt: now, expiresAt: now + 60_000 });
      const lock = await store.acquireLock(key, 5_000);
      const tokenSlot = Number(await client.cluster('KEYSLOT', `st-auth:{${key}}`));
      const lockSlot = Number(await client.cluster('KEYSLOT', `st-auth:lock:{${key}}`));
      expect(lockSlot).toBe(tokenSlot);
      // Both keys are where their slot says, on one master.
      const slots = await client.cluster('SLOTS');
      const owner = slots.find(([from, to]) => tokenSlot >= from && tokenSlot <= to)!;
      mastersUsed.add(String(owner[2]![1]));
      await lock!.release();
    }
    expect(mastersUsed.size).toBe(3);
  });

  test('RedisRateLimitStore takes an ioredis Cluster: one budget across clients', async () => {
    const stores = [new RedisRateLimitStore(connect()), new RedisRateLimitStore(connect())];
    const key = `budget-${randomBytes(4).toString('hex')}`;
    const waits: number[] = [];
    for (let index = 0; index < 6; index += 1) waits.push(await stores[index % 2]!.take(key, 4, 1_000));
    expect(waits.slice(0, 4)).toEqual([0, 0, 0, 0]);
    expect(waits[4]).toBeGreaterThan(0);
    expect(waits[5]).toBeGreaterThan(0);
  });

  // The pub/sub connection used to be opened on the first wait, inside its SUBSCRIBE's 500 ms:
  // on a Cluster (discover the slots, connect to the nodes, then to a subscriber node, each a
  // connection set-up) it timed out, and the waiting process fetched a token of its own. Here
  // every connection set-up takes 700 ms (a proxy in front of each node), so that is certain on
  // the old code; the handles' own connections are set up before the round, as in a running
  // process.
  describe('a fleet of handles with slow connection set-up, at the default commandTimeoutMs', () => {
    const TENANTS = 20;
    const HANDLES = 3;
    let proxies: SlowConnectProxy[] = [];
    let sandbox: Sandbox;

    beforeEach(async () => {
      proxies = await Promise.all(cluster().nodes.map(({ port }) => startSlowConnectProxy(port, 700)));
      sandbox = await startSandbox({
        clients: manyTenants(TENANTS, 'cid.tenant', 20_000),
        rateLimit: false,
        reportRateLimit: false,
      });
    });
    afterEach(async () => {
      await sandbox.close();
      await Promise.all(proxies.map((proxy) => proxy.close()));
    });

    test('exactly one token request per tenant for the fleet', async () => {
      // The nodes announce their own ports: natMap sends ioredis through the proxies instead.
      const natMap = Object.fromEntries(
        cluster().nodes.map(({ host, port }, index) => [
          `${host}:${port}`,
          { host: '127.0.0.1', port: proxies[index]!.port },
        ]),
      );
      const proxied = proxies.map(({ port }) => ({ host: '127.0.0.1', port }));
      const warnings: string[] = [];
      const logger = {
        warn: (message: string, details?: object) => warnings.push(`${message} ${JSON.stringify(details)}`),
      };
      const handles = await Promise.all(
        Array.from({ length: HANDLES }, async () => {
          const client = connect(proxied, { natMap });
          // A running process: its connections to every master are up.
          await client.ping();
          await Promise.all(client.nodes('master').map((node) => node.ping()));
          const store = new RedisTokenStore(client); // commandTimeoutMs: the default 500
          stores.push(store);
          return sandbox.clients.map((credentials) =>
            createServiceTitanClient({
              clientId: credentials.clientId,
              clientSecret: credentials.clientSecret,
              appKey: sandbox.appKey,
              environment: sandbox.environment,
              tenantId: credentials.tenantId,
              store,
              rateLimit: false,
              logger,
            }),
          );
        }),
      );

      const hold = sandbox.token.hold();
      const requests = handles.flat().map((client) => client.get('/crm/v2/tenant/{tenant}/customers'));
      await hold.untilWaiting(TENANTS);
      // Longer than a SUBSCRIBE's 500 ms budget: a waiter that gave up would be fetching by now.
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      hold.release();
      const statuses = (await Promise.all(requests)).map((response) => response.status);

      expect(statuses).toEqual(Array(TENANTS * HANDLES).fill(200));
      // A waiter that gave up, or any command past its 500 ms, falls back to a fetch of its own:
      // named here rather than counted as one token too many.
      expect(warnings).toEqual([]);
      expect(sandbox.token.count).toBe(TENANTS);
    }, 30_000);
  });
});
