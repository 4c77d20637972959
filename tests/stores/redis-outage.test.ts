import { Redis } from 'ioredis';
import { createServiceTitanClient, type ServiceTitanClient } from '../../src';
import { RedisTokenStore } from '../../src/redis';
import { describeWithRedis, startRedisServer, type RedisServer } from '../helpers/redis-server';
import { authOptions, customersPath, useSandbox } from '../helpers/sandbox';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Whether `condition` held within `boundMs` (checked every 50 ms). */
async function until(condition: () => boolean, boundMs: number): Promise<boolean> {
  const end = performance.now() + boundMs;
  while (!condition()) {
    if (performance.now() > end) return false;
    await sleep(50);
  }
  return true;
}

/** One "process": its own Redis connection, store, client and log. */
interface Member {
  client: ServiceTitanClient;
  redis: Redis;
  store: RedisTokenStore;
  warnings: string[];
  infos: string[];
}

// G12: a store outage degrades to per-process fetching, never to failed requests; once Redis is
// back the store is used again.
describeWithRedis('RedisTokenStore: Redis going down and coming back', () => {
  const sandbox = useSandbox();
  let server: RedisServer;
  const members: Member[] = [];

  const join = (): Member => {
    const redis = new Redis(server.port, '127.0.0.1', { retryStrategy: () => 100 });
    redis.on('error', () => undefined);
    // A command timeout well above what a busy machine delays a command by: with 200 ms, on a
    // machine at load 10 on 2 cores, a command to a live Redis timed out now and then, and the
    // client fell back to fetching its own token before the outage (2 tokens for 1). The outage
    // below costs each client one such wait, which the test waits out instead of assuming a time.
    const store = new RedisTokenStore(redis, { clientSecret: sandbox().clientSecret, commandTimeoutMs: 2_000 });
    const warnings: string[] = [];
    const infos: string[] = [];
    const logger = {
      warn: (message: string) => warnings.push(message),
      info: (message: string) => infos.push(message),
    };
    const client = createServiceTitanClient({ ...authOptions(sandbox(), { store, logger }), rateLimit: false });
    const member = { client, redis, store, warnings, infos };
    members.push(member);
    return member;
  };

  const untilReady = async (redis: Redis) => {
    for (let i = 0; redis.status !== 'ready'; i += 1) {
      if (i > 100) throw new Error(`Redis client did not reconnect (${redis.status})`);
      await sleep(20);
    }
  };

  beforeEach(async () => {
    server = await startRedisServer();
  });
  afterEach(async () => {
    for (const { store, redis } of members.splice(0)) {
      await store.close();
      redis.disconnect();
    }
    await server.stop();
  });

  test('killed under load: every request succeeds, one warning per client; restarted: the store is used again', async () => {
    const [a, b] = [join(), join()];
    await Promise.all(
      [a, b].flatMap(({ client }) => Array.from({ length: 10 }, () => client.get(customersPath(sandbox())))),
    );
    // Redis is up: a false command timeout would show here, not as a second token.
    expect([...a.warnings, ...b.warnings]).toEqual([]);
    expect(sandbox().token.count).toBe(1);

    // Load: each client keeps 5 requests in flight until told to stop.
    let loading = true;
    let failures = 0;
    let served = 0;
    const load = [a, b].flatMap(({ client }) =>
      Array.from({ length: 5 }, async () => {
        while (loading) {
          await client.get(customersPath(sandbox())).then(
            () => (served += 1),
            () => (failures += 1),
          );
        }
      }),
    );
    await sleep(100);
    await server.stop();
    // Every token now in use is rejected: each client must renew while Redis is down.
    sandbox().revokeAllTokens();
    const servedBefore = served;
    // Until both clients renewed and 50 more requests went through: each waits out one command
    // timeout first, and a busy machine slows everything, so a fixed time proves nothing.
    // Requests that stop flowing fail the test at the bound.
    const flowing = await until(() => sandbox().token.count >= 3 && served - servedBefore >= 50, 10_000);
    loading = false;
    await Promise.all(load);

    expect({ flowing, failures }).toEqual({ flowing: true, failures: 0 });
    // Per-process fetching: one renewal per client, not one per request.
    expect(sandbox().token.count).toBe(3);
    for (const { warnings } of [a, b]) {
      expect(warnings.filter((message) => message.startsWith('token store failed'))).toHaveLength(1);
    }

    await server.restart();
    await Promise.all([untilReady(a.redis), untilReady(b.redis)]);
    // Commands ioredis queued during the outage ran on reconnection; the fetch locks they took
    // that late were given back at once (or the fleet would wait out their TTL).
    const observer = new Redis(server.port, '127.0.0.1');
    await sleep(100);
    expect(await observer.keys('st-auth:lock:*')).toEqual([]);
    observer.disconnect();

    // Newcomers share one token through the store again (a token queued during the outage may
    // already be there: then nobody fetches).
    const c = join();
    await c.client.get(customersPath(sandbox()));
    const afterC = sandbox().token.count;
    expect(afterC).toBeLessThanOrEqual(4);
    const d = join();
    await Promise.all(Array.from({ length: 10 }, () => d.client.get(customersPath(sandbox()))));
    expect(sandbox().token.count).toBe(afterC);
    // A client that went through the outage tries the store again once its retry delay (5 s)
    // has passed: move the clock past it rather than sleeping.
    const realNow = Date.now.bind(Date);
    const clock = jest.spyOn(Date, 'now').mockImplementation(() => realNow() + 5_001);
    await a.client.auth.invalidate();
    clock.mockRestore();
    expect(a.infos).toContain('token store is reachable again');
    expect(a.warnings.filter((message) => message.startsWith('token store failed'))).toHaveLength(1);
  }, 30_000);
});
