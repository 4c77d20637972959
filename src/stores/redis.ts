import { randomBytes } from 'node:crypto';
import { invalidConfig } from '../errors';
import type { ServiceTitanLogger } from '../logging/logger';
import { guardLogger } from '../observers';
import { withCommandTimeout } from './command-timeout';
import { RedisSubscriber, type RedisConnection } from './redis-subscriber';
import { MIN_SECRET_BYTES, TokenCipher } from './token-cipher';
import type { StoredToken, TokenLock, TokenStore, WaitForTokenOptions } from './types';

/** Options of {@link RedisTokenStore}. */
export interface RedisTokenStoreOptions {
  /**
   * Prefix of every key and channel the store uses: `<keyPrefix>{<store key>}` holds a token,
   * `<keyPrefix>lock:{<store key>}` the fetch lock, `<keyPrefix>events:{<store key>}` is the
   * channel on which new tokens and released locks are announced. The braces are a Redis Cluster
   * hash tag: a client's keys share one slot, and clients spread over the Cluster's masters.
   * Leave braces out of the prefix (on a Cluster, a `{…}` in it would put every key in one slot).
   * @default 'st-auth:'
   */
  keyPrefix?: string;
  /**
   * Secret from which the AES-256-GCM key that encrypts tokens at rest is derived (HKDF-SHA256).
   * At least 16 bytes of high-entropy material, e.g. `randomBytes(32)` kept in your secret
   * manager, the same on every process of the fleet. Tokens are never stored in clear.
   * @default derived, per client, from the client secret of each client that uses the store (by
   * the same HMAC-SHA256 derivation as its store key)
   */
  encryptionKey?: string | Uint8Array;
  /**
   * A client secret to derive the encryption key from, for using the store directly (outside a
   * client). Clients bind their own secret to their keys, so with them this is not needed.
   * Only used for that, never stored or logged.
   * @default none
   */
  clientSecret?: string;
  /**
   * Every Redis command (and waiting for the pub/sub subscription) fails after this long, so an
   * unreachable Redis degrades to per-process token fetching instead of stalling requests, even
   * while ioredis queues commands offline.
   * @default 500
   */
  commandTimeoutMs?: number;
  /** Where the store reports entries it cannot decrypt. @default the library's silent logger */
  logger?: ServiceTitanLogger;
}

type Event = 'set' | 'released';

/**
 * A {@link TokenStore} in Redis (an ioredis client, which you create, own and quit: `new Redis(…)`
 * for one server or Sentinel, `new Cluster(…)` for a Redis Cluster): every process of a fleet
 * shares one token per client and one token fetch at a time.
 *
 * - Tokens expire with themselves (`SET … PX <ms left>`) and are encrypted at rest
 *   (AES-256-GCM); an entry that does not decrypt is a miss.
 * - Fleet-wide single flight: `SET NX PX` lock with a random owner, released by its owner only
 *   (compare-and-delete script); new tokens and released locks are announced on a pub/sub
 *   channel, so waiting processes take the token as soon as it is stored.
 * - Every command is bounded by `commandTimeoutMs`; failures reject and the library falls back to
 *   per-process fetching (one warning), then uses the store again once Redis answers.
 *
 * - Each client's keys carry a hash tag (`{<store key>}`): one slot per client on a Cluster.
 *
 * Waiting uses a second connection (`redis.duplicate()`), opened when the store is created, so
 * the first wait does not pay for its set-up. Call {@link RedisTokenStore.close} when done (it is
 * also closed when your client ends for good), or it keeps the process alive.
 *
 * @example
 * import { Redis } from 'ioredis';
 * import { RedisTokenStore } from 'axios-servicetitan-auth/redis';
 *
 * const redis = new Redis(process.env.REDIS_URL!);
 * redis.on('error', (error) => log.warn(error.message)); // else ioredis prints "Unhandled error event"
 * const store = new RedisTokenStore(redis);
 * const client = createServiceTitanClient({ ...options, store });
 * // at shutdown (promptly, even with Redis down):
 * await store.close();
 * redis.disconnect();
 */
export class RedisTokenStore implements TokenStore {
  readonly #redis: RedisConnection;
  readonly #prefix: string;
  /** From `encryptionKey` / `clientSecret`; otherwise each key's cipher comes from its client's secret. */
  readonly #sharedCipher: TokenCipher | undefined;
  readonly #cipherByKey = new Map<string, TokenCipher>();
  readonly #timeoutMs: number;
  readonly #logger: ServiceTitanLogger;
  readonly #subscriber: RedisSubscriber;
  #warnedUndecryptable = false;

  constructor(redis: RedisConnection, options: RedisTokenStoreOptions = {}) {
    if (
      redis === null ||
      typeof redis !== 'object' ||
      typeof (redis as Partial<RedisConnection>).duplicate !== 'function'
    ) {
      throw invalidConfig(
        'RedisTokenStore needs an ioredis client (new Redis(...) or new Cluster(...)) as its first argument',
      );
    }
    this.#redis = redis;
    this.#prefix = options.keyPrefix ?? 'st-auth:';
    if (typeof this.#prefix !== 'string') throw invalidConfig('RedisTokenStore: keyPrefix must be a string');
    this.#timeoutMs = options.commandTimeoutMs ?? 500;
    if (!Number.isFinite(this.#timeoutMs) || this.#timeoutMs <= 0) {
      throw invalidConfig(
        `RedisTokenStore: commandTimeoutMs must be a positive number, got ${String(options.commandTimeoutMs)}`,
      );
    }
    this.#sharedCipher = createCipher(options);
    this.#logger = options.logger === undefined ? {} : guardLogger(options.logger);
    this.#subscriber = new RedisSubscriber(redis, this.#timeoutMs, 'released' satisfies Event);
    // Last: a constructor that throws must leave no connection behind.
    this.#subscriber.open();
  }

  async get(key: string): Promise<StoredToken | undefined> {
    const redisKey = this.#tokenKey(key);
    const sealed = await this.#command('GET', () => this.#redis.get(redisKey));
    if (sealed === null) return undefined;
    const token = this.#cipherFor(key).open(redisKey, sealed);
    if (token === undefined) {
      if (!this.#warnedUndecryptable) {
        const message = 'token store entry cannot be decrypted (another encryption key, or corrupted); ignoring it';
        this.#logger.warn?.(message, { key: redisKey });
      }
      this.#warnedUndecryptable = true;
      return undefined;
    }
    this.#warnedUndecryptable = false;
    return token.expiresAt > Date.now() ? token : undefined;
  }

  async set(key: string, token: StoredToken): Promise<void> {
    const redisKey = this.#tokenKey(key);
    const ttlMs = Math.ceil(token.expiresAt - Date.now());
    if (ttlMs <= 0) {
      await this.delete(key);
      return;
    }
    const sealed = this.#cipherFor(key).seal(redisKey, token);
    await this.#command('SET', () =>
      this.#redis.eval(SET_AND_ANNOUNCE, 1, redisKey, sealed, ttlMs, this.#channel(key), 'set' satisfies Event),
    );
  }

  bindClientSecret(key: string, clientSecret: string): void {
    if (this.#sharedCipher === undefined && !this.#cipherByKey.has(key)) {
      this.#cipherByKey.set(key, new TokenCipher(clientSecret));
    }
  }

  #cipherFor(key: string): TokenCipher {
    const cipher = this.#sharedCipher ?? this.#cipherByKey.get(key);
    if (cipher === undefined) {
      throw invalidConfig(
        'RedisTokenStore has no encryption key for this entry: pass encryptionKey (or clientSecret) when using the store directly',
      );
    }
    return cipher;
  }

  async delete(key: string): Promise<void> {
    await this.#command('DEL', () => this.#redis.del(this.#tokenKey(key)));
  }

  async acquireLock(key: string, ttlMs: number): Promise<TokenLock | undefined> {
    const lockKey = this.#lockKey(key);
    const owner = randomBytes(16).toString('hex');
    const ttl = Math.max(1, Math.ceil(ttlMs));
    const release = () =>
      this.#redis.eval(RELEASE_AND_ANNOUNCE, 1, lockKey, owner, this.#channel(key), 'released' satisfies Event);
    const attempt = this.#redis.set(lockKey, owner, 'PX', ttl, 'NX');
    let acquired: string | null;
    try {
      acquired = await this.#command('SET NX', () => attempt);
    } catch (error) {
      // Timed out, but ioredis may still send it once Redis is back: a lock taken that late has
      // no holder, and would make the fleet wait out its TTL. Give it back.
      attempt.then(
        (late) => (late === 'OK' ? release().then(undefined, () => undefined) : undefined),
        () => undefined,
      );
      throw error;
    }
    if (acquired !== 'OK') return undefined;
    let released = false;
    return {
      release: async () => {
        if (released) return;
        await this.#command('release', release);
        released = true;
      },
    };
  }

  async waitForToken(key: string, { timeoutMs, except }: WaitForTokenOptions): Promise<StoredToken | undefined> {
    const wanted = (token: StoredToken | undefined) =>
      token !== undefined && token.accessToken !== except ? token : undefined;
    return new Promise<StoredToken | undefined>((resolve, reject) => {
      let stop: (() => void) | undefined;
      let settled = false;
      const finish = (outcome: () => void) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        stop?.();
        outcome();
      };
      const timer = setTimeout(() => finish(() => resolve(undefined)), timeoutMs);
      timer.unref();
      // Any announcement: read the key again (the message carries no token).
      const onMessage = (message: string) => {
        this.get(key).then(
          (token) => {
            const found = wanted(token);
            if (found !== undefined) finish(() => resolve(found));
            else if (message === ('released' satisfies Event)) finish(() => resolve(undefined));
          },
          (error: unknown) => finish(() => reject(error)),
        );
      };
      // Subscribe first, then read: a token stored in between is announced to us.
      this.#subscriber.listen(this.#channel(key), onMessage, timeoutMs).then(
        (unsubscribe) => {
          if (settled) return unsubscribe();
          stop = unsubscribe;
          this.get(key).then(
            (token) => {
              const found = wanted(token);
              if (found !== undefined) finish(() => resolve(found));
            },
            (error: unknown) => finish(() => reject(error)),
          );
        },
        (error: unknown) => finish(() => reject(error)),
      );
    });
  }

  /**
   * Closes the store's pub/sub connection (not your client: end it yourself; with Sentinel and
   * `failoverDetector: true` on ioredis before 6.1.0, with `disconnect()`, as `quit()` leaves
   * the connections to the sentinels open). Idempotent. Later waits reject, which the library
   * treats as a store outage.
   */
  async close(): Promise<void> {
    await this.#subscriber.close();
  }

  /** Alias of {@link RedisTokenStore.close}, named like ioredis's. */
  quit(): Promise<void> {
    return this.close();
  }

  /** Hides the client and the key from `console.log` / `util.inspect`. */
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `RedisTokenStore { keyPrefix: ${JSON.stringify(this.#prefix)} }`;
  }

  // `{key}`: a Redis Cluster hash tag, so a client's token and lock live in one slot.
  #tokenKey(key: string): string {
    return `${this.#prefix}{${key}}`;
  }

  #lockKey(key: string): string {
    return `${this.#prefix}lock:{${key}}`;
  }

  #channel(key: string): string {
    return `${this.#prefix}events:{${key}}`;
  }

  #command<T>(operation: string, command: () => Promise<T>): Promise<T> {
    return withCommandTimeout(operation, this.#timeoutMs, command);
  }
}

/** Stores the sealed token with its expiry, then announces it: one atomic step. */
const SET_AND_ANNOUNCE = `
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('PUBLISH', ARGV[3], ARGV[4])
return 1`;

/** Deletes the lock only if `owner` still holds it, and then announces the release. */
const RELEASE_AND_ANNOUNCE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  redis.call('PUBLISH', ARGV[2], ARGV[3])
  return 1
end
return 0`;

function createCipher({ encryptionKey, clientSecret }: RedisTokenStoreOptions): TokenCipher | undefined {
  const secret = encryptionKey ?? clientSecret;
  const name = encryptionKey === undefined ? 'clientSecret' : 'encryptionKey';
  if (secret === undefined) return undefined;
  if (typeof secret !== 'string' && !(secret instanceof Uint8Array)) {
    throw invalidConfig(`RedisTokenStore: ${name} must be a string or a Buffer`);
  }
  try {
    return new TokenCipher(secret);
  } catch {
    throw invalidConfig(`RedisTokenStore: ${name} must be at least ${MIN_SECRET_BYTES} bytes of high-entropy material`);
  }
}
