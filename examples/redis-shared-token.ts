/**
 * A fleet of workers sharing one ServiceTitan token through Redis: each worker has its own
 * Redis connection, store and client (as separate processes would), yet the whole fleet makes
 * one token request; the tokens are encrypted in Redis.
 *
 *   REDIS_URL=redis://127.0.0.1:6379 npx tsx examples/redis-shared-token.ts
 *     runs against the embedded sandbox. Without REDIS_URL, or with no Redis answering there,
 *     it says so and exits 0 — except on CI (CI set), where Redis must be there. With the ST_*
 *     variables set (e.g. the lines `npx axios-servicetitan-auth sandbox` prints), it uses them.
 *
 * In production: one `new Redis(...)` with an 'error' listener and one `RedisTokenStore` per
 * process, the same client secret (or `encryptionKey`) on every process, and `store.close()` +
 * `redis.disconnect()` at shutdown (`quit()` waits for a Redis that may be down).
 */
import { Redis } from 'ioredis';
import { clientOptionsFromEnv, createServiceTitanClient, type ServiceTitanLogger } from 'axios-servicetitan-auth';
import { RedisTokenStore } from 'axios-servicetitan-auth/redis';
import { startSandbox } from 'axios-servicetitan-auth/testing';

const WORKERS = 3;

/** Connects to REDIS_URL once, without retrying, to find out whether Redis is there. */
async function reachable(url: string): Promise<boolean> {
  const probe = new Redis(url, {
    lazyConnect: true,
    connectTimeout: 1_000,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  probe.on('error', () => undefined);
  try {
    await probe.connect();
    await probe.ping();
    return true;
  } catch {
    return false;
  } finally {
    probe.disconnect();
  }
}

async function main(): Promise<void> {
  const url = process.env.REDIS_URL;
  if (url === undefined || !(await reachable(url))) {
    const why = url === undefined ? 'REDIS_URL is not set' : `no Redis answers at REDIS_URL (${new URL(url).host})`;
    if (process.env.CI) throw new Error(`${why}, but CI is set: CI must run this example against Redis`);
    console.log(`skipped: ${why}. Run: REDIS_URL=redis://127.0.0.1:6379 npx tsx examples/redis-shared-token.ts`);
    return;
  }

  const fromEnv = clientOptionsFromEnv({ optional: true, requireTenantId: true });
  const sandbox = fromEnv ? undefined : await startSandbox();
  const options = fromEnv ?? sandbox!.clientOptions;
  // Counts successful token requests across the fleet (the library logs 'token obtained' once each).
  let tokenRequests = 0;
  const logger: ServiceTitanLogger = { info: (message) => void (message === 'token obtained' && (tokenRequests += 1)) };
  const workers = Array.from({ length: WORKERS }, () => {
    const redis = new Redis(url);
    // Without a listener, ioredis prints "Unhandled error event" on every failed reconnect.
    // The library already degrades to per-process tokens while Redis is down.
    redis.on('error', (error: Error) => console.warn(`redis: ${error.message}`));
    // Tokens are encrypted in Redis with a key derived from each client's secret, which every
    // worker of that client has (or pass `encryptionKey` to choose the key yourself).
    const store = new RedisTokenStore(redis, { keyPrefix: 'example:st-auth:' });
    const client = createServiceTitanClient({ ...options, store, logger });
    return { redis, store, client };
  });

  try {
    // Every worker starts cold and fires 10 requests at once.
    const pages = await Promise.all(
      workers.flatMap(({ client }) =>
        Array.from({ length: 10 }, () => client.get<{ data: unknown[] }>('/crm/v2/tenant/{tenant}/customers')),
      ),
    );
    console.log(`${pages.length} requests from ${WORKERS} workers → ${tokenRequests} token request(s)`);

    const { redis } = workers[0]!;
    const keys = await redis.keys('example:st-auth:*');
    const stored = keys.length > 0 ? ((await redis.get(keys[0]!)) ?? '') : '';
    console.log(`in Redis: ${keys.join(', ')} = ${stored.slice(0, 24)}… (AES-256-GCM; no token in clear)`);
    if (tokenRequests !== 1) throw new Error(`expected one token request, saw ${tokenRequests}`);
    if (sandbox && sandbox.token.count !== 1) throw new Error(`the sandbox saw ${sandbox.token.count} token requests`);
    await redis.del(...keys);
  } finally {
    for (const { store, redis } of workers) {
      await store.close(); // the store's pub/sub connection (bounded by commandTimeoutMs)
      redis.disconnect(); // yours: disconnect() returns at once, quit() would wait for a Redis that is down
    }
    await sandbox?.close();
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
});
