/**
 * A fleet of workers sharing one ServiceTitan token through Redis: each worker has its own
 * Redis connection, store and client (as separate processes would), yet the whole fleet makes
 * one token request; the tokens are encrypted in Redis.
 *
 *   REDIS_URL=redis://127.0.0.1:6379 npx tsx examples/redis-shared-token.ts
 *     runs against the embedded sandbox. Without REDIS_URL, or with no Redis answering there,
 *     it says so and exits 0 — except on CI (CI set), where Redis must be there.
 *
 * In production: one `new Redis(...)` and one `RedisTokenStore` per process, the same
 * client secret (or `encryptionKey`) on every process, and `store.close()` + `redis.quit()` at
 * shutdown.
 */
import { Redis } from 'ioredis';
import { createServiceTitanClient } from '../src';
import { RedisTokenStore } from '../src/redis';
import { startSandbox } from '../src/testing';

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

  const sandbox = await startSandbox();
  const workers = Array.from({ length: WORKERS }, () => {
    const redis = new Redis(url);
    // Tokens are encrypted in Redis with a key derived from each client's secret, which every
    // worker of that client has (or pass `encryptionKey` to choose the key yourself).
    const store = new RedisTokenStore(redis, { keyPrefix: 'example:st-auth:' });
    const client = createServiceTitanClient({
      ...sandbox.clientOptions,
      store,
    });
    return { redis, store, client };
  });

  try {
    // Every worker starts cold and fires 10 requests at once.
    const pages = await Promise.all(
      workers.flatMap(({ client }) =>
        Array.from({ length: 10 }, () => client.get<{ data: unknown[] }>('/crm/v2/tenant/{tenant}/customers')),
      ),
    );
    console.log(`${pages.length} requests from ${WORKERS} workers → ${sandbox.token.count} token request(s)`);

    const { redis } = workers[0]!;
    const keys = await redis.keys('example:st-auth:*');
    const stored = keys.length > 0 ? ((await redis.get(keys[0]!)) ?? '') : '';
    console.log(`in Redis: ${keys.join(', ')} = ${stored.slice(0, 24)}… (AES-256-GCM; no token in clear)`);
    if (sandbox.token.count !== 1) throw new Error(`expected one token request, saw ${sandbox.token.count}`);
    await redis.del(...keys);
  } finally {
    for (const { store, redis } of workers) {
      await store.close(); // the store's pub/sub connection
      await redis.quit(); // yours
    }
    await sandbox.close();
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
});
