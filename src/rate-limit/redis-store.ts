import { randomBytes } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import { invalidConfig } from '../errors';
import { withCommandTimeout } from '../stores/command-timeout';
import { msOption } from '../timer-limits';
import type { RateLimitStore } from './store';

/** Options of {@link RedisRateLimitStore}. */
export interface RedisRateLimitStoreOptions {
  /**
   * Prefix of the keys: `<keyPrefix><budget>` is a sorted set of send times, one per (app key,
   * tenant); the budget's name is a hash, so the app key never reaches Redis.
   * @default 'st-rate:'
   * @example
   * new RedisRateLimitStore(redis, { keyPrefix: 'billing-sync:rate:' });
   */
  keyPrefix?: string;
  /**
   * Every command fails after this long, so an unreachable Redis makes the client fall back to
   * its own limiter instead of stalling requests, even while ioredis queues commands offline.
   * @default 500
   * @example
   * new RedisRateLimitStore(redis, { commandTimeoutMs: 200 });
   */
  commandTimeoutMs?: number;
}

// A sliding-window log, atomic in one script: drop send times that left the window, count,
// then record this one (a unique member) or answer the wait until the oldest that must go has
// gone. Redis's own clock (TIME, µs), so the processes' clocks do not matter.
const TAKE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2]) * 1000
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local count = redis.call('ZCARD', KEYS[1])
if count < limit then
  redis.call('ZADD', KEYS[1], now, ARGV[3])
  redis.call('PEXPIRE', KEYS[1], math.ceil(window / 1000))
  return 0
end
local oldest = redis.call('ZRANGE', KEYS[1], count - limit, count - limit, 'WITHSCORES')
return math.max(1, math.ceil((tonumber(oldest[2]) + window - now) / 1000))
`;

// The request recorded as ARGV[1] has been sent: its time becomes now (if it is still there).
const MARK_SENT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
redis.call('ZADD', KEYS[1], 'XX', now, ARGV[1])
return 0
`;

/**
 * A {@link RateLimitStore} in Redis (ioredis client, which you create, own and quit): every
 * process that uses it shares one budget per (app key, tenant), ServiceTitan's unit, exact in any
 * rolling window (a sliding-window log in a sorted set, one atomic script per request, on Redis's
 * clock). Every command is bounded by `commandTimeoutMs`; when Redis fails, each client falls back
 * to its own limiter (one warning) and uses the store again once Redis answers.
 *
 * @example
 * import { Redis } from 'ioredis';
 * import { createServiceTitanClient } from 'axios-servicetitan-auth';
 * import { RedisRateLimitStore } from 'axios-servicetitan-auth/redis';
 *
 * const redis = new Redis(process.env.REDIS_URL!);
 * const client = createServiceTitanClient({
 *   clientId, clientSecret, appKey, environment: 'production', tenantId: 123,
 *   rateLimit: { store: new RedisRateLimitStore(redis) }, // 60 per second for the whole fleet
 * });
 */
export class RedisRateLimitStore implements RateLimitStore {
  readonly #redis: Redis | Cluster;
  readonly #prefix: string;
  readonly #timeoutMs: number;
  /** Members must be unique across the fleet: a random name for this store, then a counter. */
  readonly #memberPrefix = randomBytes(8).toString('hex');
  #counter = 0;

  constructor(redis: Redis | Cluster, options: RedisRateLimitStoreOptions = {}) {
    if (redis === null || typeof redis !== 'object' || typeof (redis as Partial<Redis>).eval !== 'function') {
      throw invalidConfig('RedisRateLimitStore needs an ioredis client (new Redis(...)) as its first argument');
    }
    if (options === null || typeof options !== 'object') {
      throw invalidConfig('RedisRateLimitStore: options must be an object');
    }
    this.#redis = redis;
    this.#prefix = options.keyPrefix ?? 'st-rate:';
    if (typeof this.#prefix !== 'string') throw invalidConfig('RedisRateLimitStore: keyPrefix must be a string');
    this.#timeoutMs = msOption(options.commandTimeoutMs, 'RedisRateLimitStore: commandTimeoutMs', 500, 1);
  }

  /** A fleet-unique id, for callers of {@link take} that give none. */
  #newId(): string {
    this.#counter += 1;
    return `${this.#memberPrefix}:${this.#counter}`;
  }

  async take(key: string, limit: number, windowMs: number, id: string = this.#newId()): Promise<number> {
    const answer = await withCommandTimeout(
      'take',
      this.#timeoutMs,
      () => this.#redis.eval(TAKE, 1, `${this.#prefix}${key}`, limit, windowMs, id) as Promise<unknown>,
      'RedisRateLimitStore',
    );
    const waitMs = Number(answer);
    if (!Number.isFinite(waitMs) || waitMs < 0) throw new Error('RedisRateLimitStore: take answered a non-number');
    return waitMs;
  }

  async markSent(key: string, id: string): Promise<void> {
    await withCommandTimeout(
      'markSent',
      this.#timeoutMs,
      () => this.#redis.eval(MARK_SENT, 1, `${this.#prefix}${key}`, id) as Promise<unknown>,
      'RedisRateLimitStore',
    );
  }

  /** Shows the key prefix only. */
  toJSON(): Record<string, unknown> {
    return { keyPrefix: this.#prefix };
  }
}
