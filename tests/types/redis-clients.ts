// Type tests, checked by `npm run typecheck` (never executed): both Redis stores take an ioredis
// `Redis` (one server, or Sentinel) or a `Cluster`; anything else must not compile.
import { Cluster, Redis } from 'ioredis';
import { RedisRateLimitStore, RedisTokenStore } from '../../src/redis';

declare const redis: Redis;
declare const sentinel: Redis; // new Redis({ sentinels: [...], name: 'mymaster' })
declare const cluster: Cluster;

new RedisTokenStore(redis);
new RedisTokenStore(sentinel, { keyPrefix: 'app:' });
new RedisTokenStore(cluster);
new RedisTokenStore(cluster, { commandTimeoutMs: 200 });
new RedisRateLimitStore(redis);
new RedisRateLimitStore(cluster);
new RedisRateLimitStore(cluster, { keyPrefix: 'app:rate:' });
// The constructors' parameter is exactly what the docs name.
const tokenStoreTakes: ConstructorParameters<typeof RedisTokenStore>[0] = cluster;
const rateStoreTakes: ConstructorParameters<typeof RedisRateLimitStore>[0] = cluster;
void tokenStoreTakes;
void rateStoreTakes;

// @ts-expect-error a URL is not a client
new RedisTokenStore('redis://127.0.0.1:6379');
// @ts-expect-error a client's options are not a client
new RedisRateLimitStore({ host: '127.0.0.1', port: 6379 });
