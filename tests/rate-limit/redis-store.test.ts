import { inspect } from 'node:util';
import { Cluster, Redis } from 'ioredis';
import {
  createServiceTitanClient,
  isServiceTitanAuthError,
  type RateLimitStore,
  type ServiceTitanClient,
} from '../../src';
import { RedisRateLimitStore } from '../../src/redis';
import { clusterSlot } from '../../src/rate-limit/cluster-slot';
import { SharedBudget } from '../../src/rate-limit/shared-budget';
import { describeWithRedisCluster, useRedisCluster } from '../helpers/redis-cluster';
import { describeWithRedis, startRedisServer, type RedisServer } from '../helpers/redis-server';
import { scriptCalls } from '../helpers/redis-script-calls';
import { authOptions, customersPath, useSandbox } from '../helpers/sandbox';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A fresh redis-server for each test, and connections to it that are closed after the test. */
function useRedisPerTest(): { server: () => RedisServer; connect: () => Redis } {
  let server: RedisServer | undefined;
  const connections: Redis[] = [];
  beforeEach(async () => {
    server = await startRedisServer();
  });
  afterEach(async () => {
    await Promise.all(
      connections.splice(0).map((redis) => (redis.status === 'ready' ? redis.quit() : redis.disconnect())),
    );
    await server?.stop();
  });
  const current = () => {
    if (server === undefined) throw new Error('the Redis server is only available inside a test');
    return server;
  };
  return {
    server: current,
    connect: () => {
      const redis = new Redis(current().port, '127.0.0.1', { retryStrategy: () => 50, connectTimeout: 300 });
      redis.on('error', () => undefined);
      connections.push(redis);
      return redis;
    },
  };
}

describeWithRedis('RedisRateLimitStore', () => {
  const { server, connect } = useRedisPerTest();

  test('atomic: 30 concurrent takes from 3 connections admit exactly the limit; the rest learn the wait', async () => {
    const stores = [connect(), connect(), connect()].map(
      (redis) => new RedisRateLimitStore(redis, { commandTimeoutMs: 5_000 }),
    );
    const answers = await Promise.all(Array.from({ length: 30 }, (_, i) => stores[i % 3]!.take('k', 7, 1000)));
    expect(answers.filter((wait) => wait === 0)).toHaveLength(7);
    for (const wait of answers.filter((w) => w !== 0)) {
      expect(wait).toBeGreaterThan(0);
      expect(wait).toBeLessThanOrEqual(1000);
    }
  });

  test('a sliding window, not a fixed one: a place frees exactly when the oldest leaves the window', async () => {
    const store = new RedisRateLimitStore(connect(), { commandTimeoutMs: 5_000 });
    expect(await store.take('k', 2, 400)).toBe(0);
    await sleep(200);
    expect(await store.take('k', 2, 400)).toBe(0);
    const wait = await store.take('k', 2, 400);
    // The oldest was taken ~200 ms ago: it leaves in ~200 ms, and refusals do not count.
    expect(wait).toBeGreaterThan(0);
    expect(wait).toBeLessThanOrEqual(200);
    await sleep(wait);
    expect(await store.take('k', 2, 400)).toBe(0);
    // The second is still in: a fixed window that had just rolled over would admit two here.
    expect(await store.take('k', 2, 400)).toBeGreaterThan(0);
  });

  test('keys are per budget, prefixed, hash-tagged, and expire three windows after their last write', async () => {
    const redis = connect();
    const store = new RedisRateLimitStore(redis, { keyPrefix: 'test:', commandTimeoutMs: 5_000 });
    await store.take('a', 1, 1000);
    expect(await store.take('b', 1, 1000)).toBe(0);
    expect((await redis.keys('*')).sort()).toEqual(['test:{a}', 'test:{b}']);
    const ttl = await redis.pttl('test:{a}');
    expect(ttl).toBeGreaterThan(2000);
    expect(ttl).toBeLessThanOrEqual(3000);
  });

  // At 1 request/s per tenant a tenant's next take comes too late to carry its write-time report:
  // the reports of every tenant of the store ride on whichever take goes next (no call of their
  // own), or go together in one call when one is due. Named in ARGV (so that on a Cluster one call
  // can carry budgets of several slots of one master), they must get the client's own keyPrefix,
  // which ioredis adds to KEYS only.
  test("write-time reports of other budgets ride on the next take, one call when due; the client's keyPrefix too", async () => {
    const redis = connect();
    const prefixed = new Redis(server().port, '127.0.0.1', { keyPrefix: 'app:' });
    try {
      const store = new RedisRateLimitStore(prefixed, { commandTimeoutMs: 5_000 });
      const redisNow = async () => {
        const [seconds, micros] = await redis.time();
        return Number(seconds) * 1e6 + Number(micros);
      };
      for (const budget of ['a', 'b', 'c']) expect(await store.take(budget, 5, 1000, `${budget}-1`)).toBe(0);
      // Both scripts loaded (a first EVALSHA answered NOSCRIPT counts as a call, then EVAL).
      await store.markSentMany('warm-up', [{ id: 'w', agoMs: 0 }], 1000);
      const takenAt = await redisNow();
      await sleep(100);
      const before = await scriptCalls(redis);
      const farAhead = performance.now() + 60_000;
      store.reportWritten('a', 'a-1', performance.now(), farAhead, 1000);
      store.reportWritten('b', 'b-1', performance.now(), farAhead, 1000);
      await sleep(50); // not due: nothing goes
      expect((await scriptCalls(redis)) - before).toBe(0);
      expect(await store.take('c', 5, 1000, 'c-2')).toBe(0);
      // One call: c's take, carrying a's and b's reports, on the prefixed keys.
      expect((await scriptCalls(redis)) - before).toBe(1);
      for (const budget of ['a', 'b']) {
        expect(Number(await redis.zscore(`app:st-rate:{${budget}}`, `${budget}-1`))).toBeGreaterThan(takenAt + 90_000);
      }
      expect(await redis.keys('st-rate:*')).toEqual([]);
      // Due now, and no take to carry it: one call of its own, for both budgets.
      store.reportWritten('a', 'a-1', performance.now(), performance.now(), 1000);
      store.reportWritten('c', 'c-1', performance.now(), performance.now() + 60_000, 1000);
      await sleep(100);
      expect((await scriptCalls(redis)) - before).toBe(2);
      expect(Number(await redis.zscore('app:st-rate:{c}', 'c-1'))).toBeGreaterThan(takenAt + 90_000);
    } finally {
      await prefixed.quit();
    }
  });

  // A budget named in ARGV that Redis refuses (here its key holds a string; behind a proxy, a key
  // not named in KEYS) is sent once more on a call of its own, never in a loop; then, as behind
  // such a proxy, each budget's reports go only with its own calls.
  test('a report Redis refuses goes once more on its own call, not in a loop; then budgets carry only their own', async () => {
    const redis = connect();
    const store = new RedisRateLimitStore(redis, { commandTimeoutMs: 5_000 });
    for (const budget of ['a', 'b', 'c']) expect(await store.take(budget, 5, 1000, `${budget}-1`)).toBe(0);
    await store.markSentMany('warm-up', [{ id: 'w', agoMs: 0 }], 1000);
    await redis.set('st-rate:{a}', 'not a sorted set');
    const recordedB = await redis.zscore('st-rate:{b}', 'b-1');
    const before = await scriptCalls(redis);
    const farAhead = performance.now() + 60_000;
    store.reportWritten('a', 'a-1', performance.now(), farAhead, 1000);
    expect(await store.take('c', 5, 1000, 'c-2')).toBe(0);
    await sleep(200);
    // c's take carried a's report (refused), then a's own call (refused again), nothing more.
    expect((await scriptCalls(redis)) - before).toBe(2);
    store.reportWritten('b', 'b-1', performance.now(), farAhead, 1000);
    expect(await store.take('c', 5, 1000, 'c-3')).toBe(0);
    expect(await redis.zscore('st-rate:{b}', 'b-1')).toBe(recordedB);
    expect((await scriptCalls(redis)) - before).toBe(3);
  });

  // A cron job ends its client right after its last request. A report still waiting (up to half
  // a window) and sent after `quit()` made Redis close the connection with the QUIT unanswered:
  // `quit()` rejected with "Connection is closed." now and then. close() sends them first.
  test('close() sends the reports still waiting, then nothing more; quit() after it has its answer', async () => {
    // Its own connection, ended here rather than by afterEach.
    const redis = new Redis(server().port, '127.0.0.1');
    const store = new RedisRateLimitStore(redis, { commandTimeoutMs: 5_000 });
    for (const budget of ['a', 'b']) expect(await store.take(budget, 5, 1000, `${budget}-1`)).toBe(0);
    await store.markSentMany('warm-up', [{ id: 'w', agoMs: 0 }], 1000);
    const recordedA = Number(await redis.zscore('st-rate:{a}', 'a-1'));
    const before = await scriptCalls(redis);
    const dueSoon = performance.now() + 200;
    await sleep(20);
    store.reportWritten('a', 'a-1', performance.now(), dueSoon, 1000);
    store.reportWritten('b', 'b-1', performance.now(), dueSoon, 1000);
    await store.close();
    // One call for both, answered before close() resolved: a-1 now counts from its write.
    expect((await scriptCalls(redis)) - before).toBe(1);
    expect(Number(await redis.zscore('st-rate:{a}', 'a-1'))).toBeGreaterThan(recordedA);
    store.reportWritten('a', 'a-2', performance.now(), performance.now(), 1000);
    await sleep(300); // past every due time
    expect((await scriptCalls(redis)) - before).toBe(1);
    await store.close();
    await expect(redis.quit()).resolves.toBe('OK');
  });

  test('commands are bounded: with Redis gone, take rejects within commandTimeoutMs', async () => {
    const store = new RedisRateLimitStore(connect(), { commandTimeoutMs: 100 });
    await server().stop();
    const started = performance.now();
    await expect(store.take('k', 1, 1000)).rejects.toThrow(/RedisRateLimitStore: take (timed out|failed)/);
    expect(performance.now() - started).toBeLessThan(1000);
    // ioredis leaves a handle open when disconnected while reconnecting: end connected.
    await server().restart();
  });

  test('bad arguments fail at construction, naming them; inspect shows no internals', () => {
    const fails = (make: () => unknown, text: string) => {
      let error: unknown;
      try {
        make();
      } catch (e) {
        error = e;
      }
      expect(isServiceTitanAuthError(error) && error.code === 'invalid_config').toBe(true);
      expect((error as Error).message).toContain(text);
    };
    // Never connects: construction must not need Redis.
    const idle = new Redis({ lazyConnect: true });
    fails(() => new RedisRateLimitStore({} as Redis), 'ioredis client');
    fails(() => new RedisRateLimitStore(idle, { commandTimeoutMs: 0 }), 'commandTimeoutMs');
    fails(() => new RedisRateLimitStore(idle, { commandTimeoutMs: 2 ** 31 }), 'commandTimeoutMs');
    fails(() => new RedisRateLimitStore(idle, { keyPrefix: 1 as unknown as string }), 'keyPrefix');
    expect(JSON.stringify(new RedisRateLimitStore(idle))).toBe('{"keyPrefix":"st-rate:"}');
    expect(inspect(new RedisRateLimitStore(idle))).not.toContain('Redis {');
  });
});

describeWithRedis('SharedBudget on RedisRateLimitStore: a request counts until it is written', () => {
  const { connect } = useRedisPerTest();

  // A request let through on a connection that takes longer than the window to set up: its
  // record must not leave the window (nor its key expire) before it is written, or another
  // process goes meanwhile and both arrive in the same second. Before the holds, its record kept
  // the take's time and was dropped a window later: the other take below got a place.
  test('a request still unwritten after a window is still counted; once written it counts from then', async () => {
    const windowMs = 1_000;
    const budget = new SharedBudget({
      store: new RedisRateLimitStore(connect(), { commandTimeoutMs: 5_000 }),
      key: 'k',
      limit: 1,
      windowMs,
      windowMarginMs: 40,
      logger: {},
      fellBack: () => undefined,
    });
    const other = new RedisRateLimitStore(connect(), { commandTimeoutMs: 5_000 });
    const place = await budget.take(new AbortController().signal);
    await sleep(2.5 * windowMs);
    expect(await other.take('k', 1, windowMs)).toBeGreaterThan(0);
    const observer = connect();
    expect(await observer.pttl('st-rate:{k}')).toBeGreaterThan(0);
    place.sent();
    await sleep(windowMs / 2); // the write is reported within half a window (no other take here)
    const wait = await other.take('k', 1, windowMs);
    // It counts from its write: a whole window minus the half that passed since.
    expect(wait).toBeGreaterThan(windowMs / 4);
    expect(wait).toBeLessThanOrEqual(windowMs);
  }, 20_000);
});

describeWithRedis('a client with RedisRateLimitStore', () => {
  const sandbox = useSandbox({ requestLogLimit: 1_000 });
  const { server, connect } = useRedisPerTest();
  const clientWith = (
    logger?: { warn: (m: string) => void; info: (m: string) => void },
    commandTimeoutMs = 100,
    wrap: (store: RateLimitStore) => RateLimitStore = (store) => store,
  ): ServiceTitanClient => {
    const redis = connect();
    return createServiceTitanClient({
      ...authOptions(sandbox(), logger ? { logger } : {}),
      rateLimit: { requestsPerSecond: 5, store: wrap(new RedisRateLimitStore(redis, { commandTimeoutMs })) },
    });
  };

  test('two clients share one budget per (app key, tenant); the key holds no app key', async () => {
    const [a, b] = [clientWith(undefined, 5_000), clientWith(undefined, 5_000)];
    const observer = connect();
    await Promise.all([a.auth.getToken(), b.auth.getToken(), observer.ping()]);
    const started = performance.now();
    await Promise.all(Array.from({ length: 5 }, () => a.get(customersPath(sandbox()))));
    const keys = await observer.keys('*');
    expect(keys).toHaveLength(1);
    expect(keys[0]).toMatch(/^st-rate:\{[0-9a-f]{32}\}$/);
    expect(keys[0]).not.toContain(sandbox().appKey);
    // a used the budget of the window: b (another "process", alone it would go at once) waits.
    await Promise.all(Array.from({ length: 5 }, () => b.get(customersPath(sandbox()))));
    expect(performance.now() - started).toBeGreaterThanOrEqual(1000);
  });

  test('a client asks the store for one request at a time: a freed place costs one call per waiting client', async () => {
    // All of b's requests wait for a's places to leave the window. Asking for each of them at
    // once wakes every one at each expiry to compete for one place (a fleet of 4 made ~7,000
    // store calls a second for 60 requests, and the CPU it burned delayed requests past the margin).
    const calls = { take: 0, refused: 0, inFlight: 0, maxInFlight: 0 };
    const counting = (store: RateLimitStore): RateLimitStore => ({
      take: async (...args) => {
        calls.take += 1;
        calls.inFlight += 1;
        calls.maxInFlight = Math.max(calls.maxInFlight, calls.inFlight);
        try {
          const waitMs = await store.take(...args);
          if (waitMs > 0) calls.refused += 1;
          return waitMs;
        } finally {
          calls.inFlight -= 1;
        }
      },
      markSent: (...args) => store.markSent!(...args),
    });
    const a = clientWith(undefined, 5_000);
    const b = clientWith(undefined, 5_000, counting);
    await Promise.all([a.auth.getToken(), b.auth.getToken()]);
    await Promise.all(Array.from({ length: 5 }, () => a.get(customersPath(sandbox()))));
    const results = await Promise.allSettled(Array.from({ length: 10 }, () => b.get(customersPath(sandbox()))));
    expect(results.every((r) => r.status === 'fulfilled')).toBe(true);
    expect(calls.maxInFlight).toBe(1);
    expect(calls.take - calls.refused).toBe(10);
    // One refusal per place that b waits for at most (a's 5, then its own first 5), and a few
    // more when a timer fires a millisecond before the place frees.
    expect(calls.refused).toBeLessThanOrEqual(15);
  });

  test('Redis down under repeated requests: none fails, one warning; Redis back: the fleet budget again', async () => {
    const warnings: string[] = [];
    const infos: string[] = [];
    const client = clientWith({ warn: (m) => warnings.push(m), info: (m) => infos.push(m) });
    await client.get(customersPath(sandbox()));
    await server().stop();
    const results = await Promise.allSettled(Array.from({ length: 12 }, () => client.get(customersPath(sandbox()))));
    expect(results.every((r) => r.status === 'fulfilled')).toBe(true);
    expect(warnings.filter((m) => m.startsWith('rate-limit store failed'))).toHaveLength(1);
    expect(warnings.join('\n')).not.toContain(sandbox().appKey);

    await server().restart();
    // The store is tried again at most once a second while it fails.
    await sleep(1_100);
    await client.get(customersPath(sandbox()));
    await sleep(200);
    await client.get(customersPath(sandbox()));
    expect(infos).toContain('rate-limit store answers again: the fleet shares its budget again');
    const observer = connect();
    expect(await observer.keys('st-rate:*')).toHaveLength(1);
  }, 15_000);

  test('Redis down three times in a row: no request fails, one warning and one recovery per outage', async () => {
    const warnings: string[] = [];
    const infos: string[] = [];
    const client = clientWith({ warn: (m) => warnings.push(m), info: (m) => infos.push(m) });
    await client.get(customersPath(sandbox()));
    for (let outage = 1; outage <= 3; outage += 1) {
      await server().stop();
      const down = await Promise.allSettled(Array.from({ length: 6 }, () => client.get(customersPath(sandbox()))));
      expect(down.every((r) => r.status === 'fulfilled')).toBe(true);
      await server().restart();
      // The store is tried again at most once a second while it fails; a success ends the outage.
      await sleep(1_100);
      await client.get(customersPath(sandbox()));
      expect(warnings.filter((m) => m.startsWith('rate-limit store failed'))).toHaveLength(outage);
      expect(infos.filter((m) => m.startsWith('rate-limit store answers again'))).toHaveLength(outage);
    }
  }, 30_000);

  test('without a logger, a store outage is one process warning per client', async () => {
    const emitWarning = jest.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    try {
      const client = clientWith();
      await server().stop();
      await Promise.all(Array.from({ length: 3 }, () => client.get(customersPath(sandbox()))));
      await sleep(1_100);
      await client.get(customersPath(sandbox()));
      const messages = emitWarning.mock.calls.map(([message]) => String(message));
      expect(messages.filter((m) => m.startsWith('rate-limit store failed'))).toHaveLength(1);
      // ioredis leaves a handle open when disconnected while reconnecting: end connected.
      await server().restart();
    } finally {
      emitWarning.mockRestore();
    }
  });
});

describeWithRedisCluster('RedisRateLimitStore on a 3-master Redis Cluster', () => {
  const cluster = useRedisCluster();

  test('each budget keeps its keys in one slot; budgets spread over the masters; scripts load once per master', async () => {
    const client = new Cluster([...cluster().nodes]);
    try {
      // The constructor is typed for Redis alone on this branch (issue 18 item 4 types Cluster too).
      const store = new RedisRateLimitStore(client as unknown as Redis, { commandTimeoutMs: 5_000 });
      const before = await scriptCalls(client);
      for (let tenant = 1; tenant <= 30; tenant += 1) {
        // A full budget, then a refusal: the refusal uses both keys (CROSSSLOT without the tag).
        expect(await store.takeMany(`budget-${tenant}`, 2, 1000, ['a', 'b'], 'client')).toEqual({
          taken: 2,
          waitMs: 0,
        });
        const refused = await store.takeMany(`budget-${tenant}`, 2, 1000, ['c'], 'client');
        expect(refused.taken).toBe(0);
        expect(refused.waitMs).toBeGreaterThan(0);
      }
      expect((await scriptCalls(client)) - before).toBeGreaterThanOrEqual(60);
      const mastersWithKeys = new Set<string>();
      for (const master of client.nodes('master')) {
        const keys = await master.keys('st-rate:*');
        if (keys.length > 0) mastersWithKeys.add(`${master.options.port}`);
        // Both keys of a budget live on the same master.
        for (const key of keys.filter((k) => k.endsWith(':waiting'))) {
          expect(keys).toContain(key.slice(0, -':waiting'.length));
        }
      }
      expect(mastersWithKeys.size).toBe(3);
      // EVALSHA, and EVAL only where a master had not seen the script yet.
      let evals = 0;
      for (const master of client.nodes('master')) {
        const info = await master.info('commandstats');
        evals += Number(/^cmdstat_eval:calls=(\d+)/m.exec(info)?.[1] ?? 0);
      }
      expect(evals).toBeLessThanOrEqual(2 * 3);
    } finally {
      client.disconnect();
    }
  });

  test('the store computes the slot of a key as CLUSTER KEYSLOT does', async () => {
    const client = new Cluster([...cluster().nodes]);
    try {
      const keys = [
        '123456789',
        'st-rate:{0123abcd}',
        'app:st-rate:{x}:waiting',
        '{}x',
        'a{}b{c}',
        '{a',
        'a}b{',
        'é{ü}',
      ];
      for (let i = 0; i < 50; i += 1) keys.push(`st-rate:{${i.toString(16).repeat(3)}}`);
      for (const key of keys)
        expect([key, clusterSlot(key)]).toEqual([key, Number(await client.cluster('KEYSLOT', key))]);
    } finally {
      client.disconnect();
    }
  });

  // A master can record only the keys it serves: the store sends a take's master the reports of
  // that master's budgets. When a slot moved meanwhile (here: the store's slot map is made stale
  // while the report is queued), the master refuses that budget and the store sends it again on
  // a call of its own, routed to the master that serves it.
  test("reports ride on takes to their own master; one whose slot moved goes again to the slot's master", async () => {
    const client = new Cluster([...cluster().nodes]);
    try {
      await client.ping();
      const store = new RedisRateLimitStore(client, { commandTimeoutMs: 5_000 });
      const masterOf = (budget: string) => client.slots[clusterSlot(`st-rate:{${budget}}`)]![0]!;
      const budgets = Array.from({ length: 40 }, (_, i) => `moving-${i}`);
      const here = budgets[0]!;
      const sameMaster = budgets.find((b) => b !== here && masterOf(b) === masterOf(here))!;
      const elsewhere = budgets.find((b) => masterOf(b) !== masterOf(here))!;
      for (const budget of [here, sameMaster, elsewhere])
        expect(await store.take(budget, 5, 1000, `${budget}-1`)).toBe(0);
      // Both scripts loaded on every master (a first EVALSHA answered NOSCRIPT counts as a call).
      for (const budget of budgets) await store.markSentMany(budget, [{ id: 'w', agoMs: 0 }], 1000);
      const scoreOf = async (budget: string) => Number(await client.zscore(`st-rate:{${budget}}`, `${budget}-1`));
      const recorded = { sameMaster: await scoreOf(sameMaster), elsewhere: await scoreOf(elsewhere) };
      await sleep(100);
      const farAhead = performance.now() + 60_000;
      store.reportWritten(sameMaster, `${sameMaster}-1`, performance.now(), farAhead, 1000);
      const slots = client.slots[clusterSlot(`st-rate:{${elsewhere}}`)]!;
      const servedBy = slots[0]!;
      slots[0] = masterOf(here); // stale: as if the slot had moved after the report was queued
      store.reportWritten(elsewhere, `${elsewhere}-1`, performance.now(), farAhead, 1000);
      slots[0] = servedBy;
      const before = await scriptCalls(client);
      expect(await store.take(here, 5, 1000, `${here}-2`)).toBe(0);
      await sleep(100);
      // The take carried both; its master recorded its own budget's report and refused the other,
      // which then went on a call of its own to its master.
      expect((await scriptCalls(client)) - before).toBe(2);
      expect(await scoreOf(sameMaster)).toBeGreaterThan(recorded.sameMaster + 90_000);
      expect(await scoreOf(elsewhere)).toBeGreaterThan(recorded.elsewhere + 90_000);
    } finally {
      client.disconnect();
    }
  });
});
