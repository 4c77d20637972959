import net from 'node:net';
import { Redis } from 'ioredis';
import { RedisRateLimitStore, RedisTokenStore } from '../../src/redis';
import { holdEventLoop } from '../helpers/hold-event-loop';
import { describeWithRedis, useRedisServer } from '../helpers/redis-server';

/** Settles `promise` into what it did, for one assertion on both outcomes. */
function outcome(promise: Promise<unknown>): Promise<string> {
  return promise.then(
    () => 'answered',
    (error: unknown) => `failed: ${(error as Error).message}`,
  );
}

// A command bounded by `commandTimeoutMs` (500 ms by default) fails only when Redis has not
// answered. A process that was not running for longer than that (bench:fleet's workers held
// their event loop for seconds at a cold start) runs its due timers before it reads its sockets:
// the answer was there, unread, and the store took it for a failure (every client of those
// workers fell back to fetching its own token: 8,000 of 8,000).
describeWithRedis('store commands answered while the event loop was held past their timeout', () => {
  const redisServer = useRedisServer();
  let redis: Redis;

  beforeEach(async () => {
    redis = new Redis(redisServer().port, '127.0.0.1');
    await redis.ping();
  });
  afterEach(async () => {
    await redis.quit();
  });

  test('RedisTokenStore (default commandTimeoutMs, 500 ms): an answer that arrived is read, not a timeout', async () => {
    const store = new RedisTokenStore(redis);
    const read = outcome(store.get('held-loop'));
    holdEventLoop(800);
    expect(await read).toBe('answered');
    await store.close();
  });

  test('RedisRateLimitStore (default commandTimeoutMs, 500 ms): the take that Redis answered records its place', async () => {
    const store = new RedisRateLimitStore(redis);
    const take = store.takeMany('held-loop', 60, 1000, ['a'], 'client');
    const taken = outcome(take);
    holdEventLoop(800);
    expect(await taken).toBe('answered');
    expect(await take).toEqual({ taken: 1, waitMs: 0 });
    await store.close();
  });
});

// A worker that creates its ioredis client and starts its whole cold start at once (bench:fleet's
// workers do): its first commands wait in ioredis's offline queue until the connection is ready,
// and the burst holds the event loop past their timeout before the connection can even be set
// up. The look after the hold found no answer, as nothing had been sent: every one of those
// commands failed (bench:fleet with both cores busy: a worker's 1,000 tenants fell back, 3 token
// requests per tenant). After its process was held, a command gets a fresh look: its timeout
// again, counted from when the process runs again.
describeWithRedis('store commands not yet sent when the event loop was held past their timeout', () => {
  const redisServer = useRedisServer();

  test.each(['RedisTokenStore', 'RedisRateLimitStore'])(
    '%s (defaults): a command queued before the connection was ready is answered',
    async (storeName) => {
      const redis = new Redis(redisServer().port, '127.0.0.1');
      try {
        const command =
          storeName === 'RedisTokenStore'
            ? new RedisTokenStore(redis).get('not-yet-sent')
            : new RedisRateLimitStore(redis).takeMany('not-yet-sent', 60, 1000, ['a'], 'client');
        const answered = outcome(command);
        expect(redis.status).not.toBe('ready');
        holdEventLoop(800);
        expect(await answered).toBe('answered');
      } finally {
        redis.disconnect();
      }
    },
  );

  // Once: a process held again and again is not waited for without end.
  test('a second hold of the same command does not extend it again', async () => {
    const sockets = new Set<net.Socket>();
    const silent = net.createServer((socket) => sockets.add(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const redis = new Redis((silent.address() as net.AddressInfo).port, '127.0.0.1', { maxRetriesPerRequest: null });
    redis.on('error', () => undefined);
    try {
      const store = new RedisTokenStore(redis, { commandTimeoutMs: 200 });
      const read = outcome(store.get('held-twice'));
      holdEventLoop(400);
      // The fresh look's timer is due 200 ms after the first look: hold past it too.
      await new Promise((resolve) => setTimeout(resolve, 50));
      holdEventLoop(400);
      expect(await read).toBe('failed: RedisTokenStore: GET timed out after 200 ms');
      await store.close();
    } finally {
      redis.disconnect();
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });
});

// The bound itself still holds: a Redis that never answers fails the command once the timeout
// and one more turn of the event loop have passed.
test('a command to a server that never answers still fails at its timeout', async () => {
  const sockets = new Set<net.Socket>();
  const silent = net.createServer((socket) => sockets.add(socket));
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  const { port } = silent.address() as net.AddressInfo;
  // It connects, then waits forever for the ready check's answer: commands stay queued.
  const redis = new Redis(port, '127.0.0.1', { maxRetriesPerRequest: null });
  redis.on('error', () => undefined);
  try {
    const store = new RedisTokenStore(redis, { commandTimeoutMs: 200 });
    const started = performance.now();
    await expect(store.get('never')).rejects.toThrow('RedisTokenStore: GET timed out after 200 ms');
    const elapsed = performance.now() - started;
    // Not before its timeout; and not much after (an unref'd last look waited seconds here, for
    // the next I/O): the bound is loose for a busy machine, the failure it catches is not.
    expect(elapsed).toBeGreaterThanOrEqual(199);
    expect(elapsed).toBeLessThan(2_000);
    await store.close();
  } finally {
    redis.disconnect();
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => silent.close(resolve));
  }
});
