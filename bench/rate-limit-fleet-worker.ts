/**
 * One process of the rate-limit fleet benchmark: a client of one tenant that keeps requests
 * going for `BENCH_SECONDS`, with or without RedisRateLimitStore (`BENCH_REDIS_URL` empty: its
 * own limiter only), then prints one JSON line `{ ok, failed }` and exits. Prints `ready` once
 * it has a token and has made 5 warm-up requests, and starts on the first line it reads on stdin.
 */
import { createInterface } from 'node:readline';
import { Redis } from 'ioredis';
import { createServiceTitanClient } from '../src';
import { RedisRateLimitStore } from '../src/redis';

const options = JSON.parse(process.env.BENCH_CLIENT_OPTIONS ?? '{}') as Parameters<typeof createServiceTitanClient>[0];
const seconds = Number(process.env.BENCH_SECONDS ?? 5);
const redisUrl = process.env.BENCH_REDIS_URL ?? '';
const redis = redisUrl === '' ? undefined : new Redis(redisUrl);
const client = createServiceTitanClient({
  ...options,
  ...(redis === undefined ? {} : { rateLimit: { store: new RedisRateLimitStore(redis) } }),
  retry: { retries: 10 },
});
await client.auth.getToken();
await redis?.ping();
// Warm-up: the first calls through this code and the server's API path are slow (JIT); the
// parent resets the server's counts after them and lets their window empty.
await Promise.all(
  Array.from({ length: 5 }, () => client.get('/crm/v2/tenant/{tenant}/customers', { params: { pageSize: 1 } })),
);
process.stdout.write('ready\n');
const input = createInterface({ input: process.stdin });
await new Promise((resolve) => input.once('line', resolve));
input.close();

let ok = 0;
let failed = 0;
const until = performance.now() + seconds * 1000;
await Promise.all(
  Array.from({ length: 40 }, async () => {
    while (performance.now() < until) {
      await client.get('/crm/v2/tenant/{tenant}/customers', { params: { pageSize: 1 } }).then(
        () => (ok += 1),
        () => (failed += 1),
      );
    }
  }),
);
await redis?.quit();
process.stdout.write(`${JSON.stringify({ ok, failed })}\n`);
