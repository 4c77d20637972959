/**
 * `axios-servicetitan-auth/redis`: the Redis token store and the Redis rate-limit store. A
 * separate entry point, so importing the main entry never loads ioredis (an optional peer
 * dependency).
 */
export { RedisTokenStore } from './stores/redis';
export type { RedisTokenStoreOptions } from './stores/redis';
export type { RedisConnection } from './stores/redis-subscriber';
export type { StoredToken, TokenLock, TokenOrLock, TokenStore, WaitForTokenOptions } from './stores/types';
export { RedisRateLimitStore } from './rate-limit/redis-store';
export type { RedisRateLimitStoreOptions } from './rate-limit/redis-store';
export type { RateLimitStore, RateLimitTakeAnswer, WrittenRequest } from './rate-limit/store';
