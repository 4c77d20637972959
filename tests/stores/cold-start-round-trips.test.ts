import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import type { TenantCredentials } from '../../src';
import { RedisTokenStore } from '../../src/redis';
import { startSandbox, type Sandbox } from '../../src/testing';
import { describeWithRedis, useRedisServer } from '../helpers/redis-server';
import { firstRequests, sandboxTenantClients } from '../helpers/tenant-fleet';
import { credentialsByTenant, manyTenants } from '../helpers/tenants';

const TENANTS = 40;
/**
 * The store's command timeout, and this file's test timeout. The counts below hold only while
 * every command gets its answer: a command that times out falls back to a fetch of its own (one
 * token more, and the lock it took in Redis held until its TTL). At the default 500 ms that
 * happened under CI load: the client set-up, request and in-process sandbox answer of every
 * tenant run on this one event loop between a command's sending and the reading of its reply
 * (the loop stalled 60-200 ms on a quiet machine, 580 ms at load average 15: two timeouts, 42
 * tokens for 40). No command starts before its test, so a stall that could reach this fails the
 * test by its own timeout first: never a fallback, at worst a slow test reported as such. (A
 * cold start of 40 tenants took 5 s at load average 15.)
 */
const LIVE_REDIS_TIMEOUT_MS = 60_000;
jest.setTimeout(LIVE_REDIS_TIMEOUT_MS);
/** What a connection sends while it sets itself up (ready check, client name…): not the store's work. */
const CONNECTION_SETUP = new Set(['info', 'hello', 'ping', 'client', 'select', 'auth', 'monitor']);

/**
 * Top-level commands Redis receives (MONITOR; a script's own calls, shown as `lua`, are left
 * out), by name. `stop` sends a marker through `redis` and stops once MONITOR has shown it, so
 * every command before it has been counted.
 */
async function recordCommands(redis: Redis): Promise<{ names: string[]; stop(): Promise<void> }> {
  // ioredis opens a connection of its own for MONITOR.
  const monitor = await redis.monitor();
  const names: string[] = [];
  const marker = `end-${randomBytes(8).toString('hex')}`;
  const markerSeen = new Promise<void>((resolve) => {
    monitor.on('monitor', (_time: string, args: string[], source: string) => {
      const name = args[0]?.toLowerCase();
      if (name === 'echo' && args[1] === marker) resolve();
      else if (source !== 'lua' && name !== undefined && !CONNECTION_SETUP.has(name)) names.push(name);
    });
  });
  return {
    names,
    async stop() {
      await redis.echo(marker);
      await markerSeen;
      monitor.disconnect();
    },
  };
}

// Issue 18 item 3: a cold start of thousands of tenants is bounded by the token endpoint. With
// createTenantClients the token fetches queue through one limiter (4 at a time), and each holds
// its place for its round trips to Redis as well as for the token request: read the token (none),
// take the fleet lock, read again, store the token, release the lock were five round trips, one
// after another, each also waiting for a turn of the busy event loop. Now the token store reads
// and locks in one script and stores and releases in another: two. Counted at the Redis server.
describeWithRedis('cold start with RedisTokenStore: Redis round trips per tenant', () => {
  const server = useRedisServer();
  let sandbox: Sandbox;
  let redis: Redis;
  let store: RedisTokenStore;
  let credentials: Map<string, TenantCredentials>;
  /** What the clients warned of: a fallback to per-process fetching says so here. */
  let warnings: string[];

  beforeEach(async () => {
    const clients = manyTenants(TENANTS, 'cid.rt', 30_000);
    credentials = credentialsByTenant(clients);
    sandbox = await startSandbox({ clients, rateLimit: false, reportRateLimit: false });
    redis = new Redis(server().port, '127.0.0.1');
    await redis.flushall();
    store = new RedisTokenStore(redis, { commandTimeoutMs: LIVE_REDIS_TIMEOUT_MS });
    warnings = [];
  });
  afterEach(async () => {
    await store.close();
    redis.disconnect();
    await sandbox.close();
  });

  const coldStart = (): Promise<number[]> =>
    firstRequests(sandboxTenantClients(sandbox, credentials, store, warnings), credentials.keys());

  test('one request per tenant: two round trips to Redis per tenant, one token each', async () => {
    const recorder = await recordCommands(redis);
    let statuses: number[];
    try {
      statuses = await coldStart();
    } finally {
      await recorder.stop();
    }
    expect(statuses.every((status) => status === 200)).toBe(true);
    // No fallback (which would show as one token too many, not as its cause).
    expect(warnings).toEqual([]);
    expect(sandbox.token.count).toBe(TENANTS);
    // Each script once as EVAL (its first use on the connection), then as EVALSHA.
    expect(recorder.names.filter((name) => name !== 'eval' && name !== 'evalsha')).toEqual([]);
    expect(recorder.names).toHaveLength(2 * TENANTS);
  });

  // Not worse when the tokens are there (a second process starting): one read, as before.
  test('a second process finds every token: one round trip per tenant, no token request', async () => {
    await coldStart();
    await store.close();
    store = new RedisTokenStore(redis, { commandTimeoutMs: LIVE_REDIS_TIMEOUT_MS });
    const recorder = await recordCommands(redis);
    try {
      await coldStart();
    } finally {
      await recorder.stop();
    }
    expect(warnings).toEqual([]);
    expect(sandbox.token.count).toBe(TENANTS);
    expect(recorder.names).toHaveLength(TENANTS);
  });
});
