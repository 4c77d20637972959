import { randomBytes } from 'node:crypto';
import { invalidConfig } from '../errors';
import type { ServiceTitanLogger } from '../logging/logger';
import { guardLogger } from '../observers';
import { commandBounds, withCommandTimeout, type CommandBounds } from './command-timeout';
import { RedisSubscriber, type RedisConnection } from './redis-subscriber';
import { MIN_SECRET_BYTES, TokenCipher } from './token-cipher';
import type { StoredToken, TokenLock, TokenOrLock, TokenStore, WaitForTokenOptions } from './types';

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
   * A Redis command fails once Redis has been silent this long (no answer to it, nor to any other
   * of the library's commands on the same ioredis client), and waiting for the pub/sub
   * subscription fails after this long: an unreachable Redis degrades to per-process token
   * fetching instead of stalling requests, even while ioredis queues commands offline.
   * @default 500
   */
  commandTimeoutMs?: number;
  /**
   * The longest a command waits while Redis keeps answering others: a Redis working through a
   * backlog (a cold start over thousands of tenants, a server short of CPU) answers late but is
   * not down, and each timeout sends the client to fetch its own token. Equal to
   * `commandTimeoutMs`, every command fails after that long whatever Redis answers meanwhile.
   * @default the larger of 1500 and `commandTimeoutMs`
   * @example
   * new RedisTokenStore(redis, { maxCommandWaitMs: 3000 }); // a Redis known to lag under load
   */
  maxCommandWaitMs?: number;
  /** Where the store reports entries it cannot decrypt. @default the library's silent logger */
  logger?: ServiceTitanLogger;
}

type Event = 'set' | 'released';

const GET_OR_LOCK_COMMAND = 'serviceTitanTokenGetOrLockV1';
const SET_COMMAND = 'serviceTitanTokenSetV1';
const RELEASE_COMMAND = 'serviceTitanTokenReleaseV1';
const STORE_AND_RELEASE_COMMAND = 'serviceTitanTokenStoreAndReleaseV1';

/** The client once the scripts are defined on it. */
type ScriptedRedis = Record<
  typeof GET_OR_LOCK_COMMAND | typeof SET_COMMAND | typeof RELEASE_COMMAND | typeof STORE_AND_RELEASE_COMMAND,
  (...args: (string | number)[]) => Promise<unknown>
>;

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
  readonly #scripts: ScriptedRedis;
  readonly #prefix: string;
  /** From `encryptionKey` / `clientSecret`; otherwise each key's cipher comes from its client's secret. */
  readonly #sharedCipher: TokenCipher | undefined;
  readonly #cipherByKey = new Map<string, TokenCipher>();
  readonly #timeoutMs: number;
  readonly #bounds: CommandBounds;
  readonly #logger: ServiceTitanLogger;
  readonly #subscriber: RedisSubscriber;
  #warnedUndecryptable = false;

  constructor(redis: RedisConnection, options: RedisTokenStoreOptions = {}) {
    if (
      redis === null ||
      typeof redis !== 'object' ||
      typeof (redis as Partial<RedisConnection>).duplicate !== 'function' ||
      typeof (redis as Partial<RedisConnection>).defineCommand !== 'function'
    ) {
      throw invalidConfig(
        'RedisTokenStore needs an ioredis client (new Redis(...) or new Cluster(...)) as its first argument',
      );
    }
    this.#redis = redis;
    // ioredis sends a defined command as EVALSHA, and the script text (EVAL) only when the server
    // answers NOSCRIPT (a restart, a failover, a new Cluster master), so it does not travel with
    // every call. Defining it again (another store on the same client) replaces it with the same
    // script. It does not connect.
    redis.defineCommand(GET_OR_LOCK_COMMAND, { numberOfKeys: 2, lua: GET_OR_LOCK });
    redis.defineCommand(SET_COMMAND, { numberOfKeys: 1, lua: SET_AND_ANNOUNCE });
    redis.defineCommand(RELEASE_COMMAND, { numberOfKeys: 1, lua: RELEASE_AND_ANNOUNCE });
    redis.defineCommand(STORE_AND_RELEASE_COMMAND, { numberOfKeys: 2, lua: STORE_AND_RELEASE });
    this.#scripts = redis as unknown as ScriptedRedis;
    this.#prefix = options.keyPrefix ?? 'st-auth:';
    if (typeof this.#prefix !== 'string') throw invalidConfig('RedisTokenStore: keyPrefix must be a string');
    this.#timeoutMs = options.commandTimeoutMs ?? 500;
    if (!Number.isFinite(this.#timeoutMs) || this.#timeoutMs <= 0) {
      throw invalidConfig(
        `RedisTokenStore: commandTimeoutMs must be a positive number, got ${String(options.commandTimeoutMs)}`,
      );
    }
    this.#bounds = commandBounds('RedisTokenStore', redis, this.#timeoutMs, options.maxCommandWaitMs);
    this.#sharedCipher = createCipher(options);
    this.#logger = options.logger === undefined ? {} : guardLogger(options.logger);
    this.#subscriber = new RedisSubscriber(redis, this.#timeoutMs, 'released' satisfies Event);
    // Last: a constructor that throws must leave no connection behind.
    this.#subscriber.open();
  }

  async get(key: string): Promise<StoredToken | undefined> {
    const redisKey = this.#tokenKey(key);
    const sealed = await this.#command('GET', () => this.#redis.get(redisKey));
    return sealed === null ? undefined : this.#open(key, redisKey, sealed);
  }

  /** The token in a sealed entry: `undefined` if it does not decrypt (warned once per outage) or has expired. */
  #open(key: string, redisKey: string, sealed: string): StoredToken | undefined {
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
      this.#scripts[SET_COMMAND](redisKey, sealed, ttlMs, this.#channel(key), 'set' satisfies Event),
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
    const owner = newOwner();
    const attempt = this.#redis.set(this.#lockKey(key), owner, 'PX', lockTtl(ttlMs), 'NX');
    const acquired = await this.#lockAttempt(key, owner, 'SET NX', attempt, (reply) => reply === 'OK');
    return acquired ? this.#heldLock(key, owner) : undefined;
  }

  /** {@link TokenStore.getOrLock}: one script reads the token and, when there is none, takes the lock. */
  async getOrLock(key: string, ttlMs: number): Promise<TokenOrLock> {
    const redisKey = this.#tokenKey(key);
    const owner = newOwner();
    // A string: the sealed entry (no lock taken); 1: the lock is ours; 0: another holder has it.
    const attempt = this.#scripts[GET_OR_LOCK_COMMAND](redisKey, this.#lockKey(key), owner, lockTtl(ttlMs));
    const reply = await this.#lockAttempt(key, owner, 'GET or SET NX', attempt, (late) => late === 1);
    if (typeof reply !== 'string') return { lock: reply === 1 ? this.#heldLock(key, owner) : undefined };
    const token = this.#open(key, redisKey, reply);
    if (token !== undefined) return { token };
    // An entry this client cannot use (another secret's, or past its expiry): as if none.
    return { lock: await this.acquireLock(key, ttlMs) };
  }

  /**
   * Waits for a command that may take the lock. Timed out, ioredis may still send it once Redis
   * is back: a lock taken that late has no holder, and would make the fleet wait out its TTL.
   * Give it back.
   */
  async #lockAttempt<T>(
    key: string,
    owner: string,
    operation: string,
    attempt: Promise<T>,
    tookLock: (reply: T) => boolean,
  ): Promise<T> {
    try {
      return await this.#command(operation, () => attempt);
    } catch (error) {
      attempt.then(
        (late) => (tookLock(late) ? this.#release(key, owner).then(undefined, () => undefined) : undefined),
        () => undefined,
      );
      throw error;
    }
  }

  #heldLock(key: string, owner: string): TokenLock {
    let released = false;
    return {
      release: async () => {
        if (released) return;
        await this.#command('release', () => this.#release(key, owner));
        released = true;
      },
      storeAndRelease: async (token) => {
        if (released) return this.set(key, token);
        const redisKey = this.#tokenKey(key);
        const ttlMs = Math.ceil(token.expiresAt - Date.now());
        if (ttlMs <= 0) {
          await this.delete(key);
          await this.#command('release', () => this.#release(key, owner));
        } else {
          const sealed = this.#cipherFor(key).seal(redisKey, token);
          await this.#command('SET and release', () =>
            this.#scripts[STORE_AND_RELEASE_COMMAND](
              redisKey,
              this.#lockKey(key),
              sealed,
              ttlMs,
              owner,
              this.#channel(key),
              'set' satisfies Event,
            ),
          );
        }
        released = true;
      },
    };
  }

  #release(key: string, owner: string): Promise<unknown> {
    return this.#scripts[RELEASE_COMMAND](this.#lockKey(key), owner, this.#channel(key), 'released' satisfies Event);
  }

  async waitForToken(
    key: string,
    { timeoutMs, except, lockSeenHeld = false }: WaitForTokenOptions,
  ): Promise<StoredToken | undefined> {
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
      // Subscribe first, then read: a token stored or a lock released in between is announced
      // to us. What happened before the subscription took effect is read: the token, and, for a
      // caller that saw the lock held, whether anyone still holds it (released without a token
      // before we listened: a wait for an announcement that already went lasted the whole
      // timeout, 4.9 s of a 5 s wait in a contract test on a loaded machine).
      this.#subscriber.listen(this.#channel(key), onMessage, timeoutMs).then(
        (unsubscribe) => {
          if (settled) return unsubscribe();
          stop = unsubscribe;
          this.#tokenAndHolder(key).then(
            ({ token, held }) => {
              const found = wanted(token);
              if (found !== undefined) finish(() => resolve(found));
              else if (lockSeenHeld && !held) finish(() => resolve(undefined));
            },
            (error: unknown) => finish(() => reject(error)),
          );
        },
        (error: unknown) => finish(() => reject(error)),
      );
    });
  }

  /** The token (as {@link get}) and whether a fetch lock is held, in one round trip (one slot: one hash tag). */
  async #tokenAndHolder(key: string): Promise<{ token: StoredToken | undefined; held: boolean }> {
    const redisKey = this.#tokenKey(key);
    const [sealed, holder] = await this.#command('MGET', () => this.#redis.mget(redisKey, this.#lockKey(key)));
    return { token: sealed == null ? undefined : this.#open(key, redisKey, sealed), held: holder != null };
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
    return withCommandTimeout(operation, this.#bounds, command);
  }
}

/** Stores the sealed token with its expiry, then announces it: one atomic step. */
const SET_AND_ANNOUNCE = `
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('PUBLISH', ARGV[3], ARGV[4])
return 1`;

/**
 * The token if one is stored (KEYS[1]); otherwise takes the lock (KEYS[2]) for `owner` (ARGV[1])
 * for ARGV[2] ms if nobody holds it: 1, or 0 if somebody does. One atomic step, so a token
 * stored by another process between the read and the lock cannot be missed.
 */
const GET_OR_LOCK = `
local sealed = redis.call('GET', KEYS[1])
if sealed then return sealed end
if redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[2], 'NX') then return 1 end
return 0`;

/**
 * Stores the sealed token (KEYS[1]) with its expiry, releases the lock (KEYS[2]) if `owner`
 * (ARGV[3]) still holds it, and announces the token once: what SET_AND_ANNOUNCE then
 * RELEASE_AND_ANNOUNCE do, in one round trip.
 */
const STORE_AND_RELEASE = `
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
if redis.call('GET', KEYS[2]) == ARGV[3] then
  redis.call('DEL', KEYS[2])
end
redis.call('PUBLISH', ARGV[4], ARGV[5])
return 1`;

/** Deletes the lock only if `owner` still holds it, and then announces the release. */
const RELEASE_AND_ANNOUNCE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  redis.call('PUBLISH', ARGV[2], ARGV[3])
  return 1
end
return 0`;

/** This process's random name, drawn once: lock owners add a counter (unique, without a draw per lock). */
const PROCESS_NAME = randomBytes(16).toString('hex');
let locksTried = 0;

/** A lock owner no other attempt, in this process or another, uses. */
function newOwner(): string {
  return `${PROCESS_NAME}.${(locksTried += 1).toString(36)}`;
}

/** A lock's TTL for Redis: whole ms, at least 1. */
function lockTtl(ttlMs: number): number {
  return Math.max(1, Math.ceil(ttlMs));
}

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
