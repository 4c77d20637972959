import { createHash, randomBytes, scryptSync } from 'node:crypto';
import { inspect } from 'node:util';
import { Redis } from 'ioredis';
import { createServiceTitanClient, isServiceTitanAuthError } from '../../src';
import { RedisTokenStore, type RedisTokenStoreOptions } from '../../src/redis';
import { TokenCipher } from '../../src/stores/token-cipher';
import { deriveStoreBinding, tokenStoreKey } from '../../src/token/store-key';
import { describeWithRedis, freePort, useRedisServer } from '../helpers/redis-server';
import { authOptions, customersPath, useSandbox } from '../helpers/sandbox';
import { tokenStoreContract } from './contract';

const encryptionKey = randomBytes(32);

/** Whether `condition` came true within `boundMs` (checked every 20 ms). */
async function eventually(condition: () => Promise<boolean>, boundMs = 5_000): Promise<boolean> {
  const end = performance.now() + boundMs;
  while (!(await condition())) {
    if (performance.now() > end) return false;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return true;
}

describeWithRedis('RedisTokenStore (real redis-server)', () => {
  const server = useRedisServer();
  const clients: Redis[] = [];
  const stores: RedisTokenStore[] = [];

  /** A connection of its own, as another process would have. */
  const connect = () => {
    const redis = new Redis(server().port, '127.0.0.1', { lazyConnect: false });
    clients.push(redis);
    return redis;
  };
  /** A store on its own connection; the shared test `encryptionKey` unless a `clientSecret` is given. */
  const makeStore = (options: RedisTokenStoreOptions = {}, redis = connect()) => {
    const defaults = options.clientSecret === undefined ? { encryptionKey } : {};
    const store = new RedisTokenStore(redis, { ...defaults, commandTimeoutMs: 1_000, ...options });
    stores.push(store);
    return store;
  };

  afterEach(async () => {
    await Promise.all(stores.splice(0).map((store) => store.close()));
    // quit() waits for a connection that is not there (ioredis queues it): disconnect those.
    await Promise.all(
      clients
        .splice(0)
        .map(async (redis) =>
          redis.status === 'ready' ? redis.quit().catch(() => redis.disconnect()) : redis.disconnect(),
        ),
    );
  });

  tokenStoreContract('RedisTokenStore', () => makeStore());

  describe('what Redis holds', () => {
    const sandbox = useSandbox();

    test('keys and values reveal no client id, secret, app key or token; values are encrypted', async () => {
      const redis = connect();
      await redis.flushall();
      // No key option: the client binds its own secret, from which the store derives the key.
      const store = new RedisTokenStore(redis, { commandTimeoutMs: 1_000 });
      stores.push(store);
      const client = createServiceTitanClient({ ...authOptions(sandbox(), { store }), rateLimit: false });
      await client.get(customersPath(sandbox()));
      const accessToken = await client.auth.getToken();
      // Hold a lock too, so its key is inspected as well.
      const storeKey = await tokenStoreKey(sandbox().authUrl, sandbox().clientId, sandbox().clientSecret);
      const lock = await store.acquireLock(storeKey, 5_000);

      const keys = await redis.keys('*');
      expect(keys.sort()).toEqual([`st-auth:{${storeKey}}`, `st-auth:lock:{${storeKey}}`].sort());
      const values = await Promise.all(keys.map((key) => redis.get(key)));
      const everything = [...keys, ...values].join('\n');
      for (const secret of [sandbox().clientId, sandbox().clientSecret, sandbox().appKey, accessToken, 'accessToken']) {
        expect(everything).not.toContain(secret);
      }
      // The token's parts (JWT header / claims / signature) are not there either.
      for (const part of accessToken.split('.')) expect(everything).not.toContain(part);
      expect(await redis.get(`st-auth:{${storeKey}}`)).toMatch(/^v1\.[A-Za-z0-9_-]+$/);
      await lock!.release();
    });

    test('G14 in one process: one store without encryptionKey, a wrong secret misses and is rejected', async () => {
      const redis = connect();
      await redis.flushall();
      const store = new RedisTokenStore(redis, { commandTimeoutMs: 1_000 });
      stores.push(store);
      const client = (clientSecret: string) =>
        createServiceTitanClient({ ...authOptions(sandbox(), { store, clientSecret }), rateLimit: false });
      expect((await client(sandbox().clientSecret).get(customersPath(sandbox()))).status).toBe(200);
      const error = await client(`${sandbox().clientSecret}-old`)
        .get(customersPath(sandbox()))
        .catch((e: unknown) => e);
      expect(isServiceTitanAuthError(error) && error.code).toBe('invalid_client');
      expect(sandbox().api.count).toBe(1);
      // Same secret, another process: the one entry, under a key that names neither id nor secret.
      const key = await tokenStoreKey(sandbox().authUrl, sandbox().clientId, sandbox().clientSecret);
      expect(await redis.keys('*')).toEqual([`st-auth:{${key}}`]);
      const other = new RedisTokenStore(connect(), { commandTimeoutMs: 1_000 });
      stores.push(other);
      const sibling = createServiceTitanClient({ ...authOptions(sandbox(), { store: other }), rateLimit: false });
      expect((await sibling.get(customersPath(sandbox()))).status).toBe(200);
      expect(sandbox().tokensSeen).toEqual(['tok-1']);
    });

    test('the entry expires in Redis with the token (PX)', async () => {
      const redis = connect();
      const store = makeStore({}, redis);
      const now = Date.now();
      await store.set('k-ttl', { accessToken: 'tok', obtainedAt: now, expiresAt: now + 30_000 });
      const ttl = await redis.pttl('st-auth:{k-ttl}');
      expect(ttl).toBeGreaterThan(28_000);
      expect(ttl).toBeLessThanOrEqual(30_000);
    });

    test('keyPrefix applies to every key and channel', async () => {
      const redis = connect();
      const store = makeStore({ keyPrefix: 'app1:' }, redis);
      const now = Date.now();
      const wait = store.waitForToken('k-prefix', { timeoutMs: 2_000 });
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(await redis.pubsub('CHANNELS', 'app1:*')).toEqual(['app1:events:{k-prefix}']);
      await store.set('k-prefix', { accessToken: 'tok', obtainedAt: now, expiresAt: now + 30_000 });
      await expect(wait).resolves.toMatchObject({ accessToken: 'tok' });
      const lock = await store.acquireLock('k-prefix', 5_000);
      expect((await redis.keys('app1:*')).sort()).toEqual(['app1:lock:{k-prefix}', 'app1:{k-prefix}']);
      await lock!.release();
    });
  });

  // Releases before issue 18 derived store keys with scrypt: `servicetitan-token:<32 hex>`, the
  // entry sealed under other bytes of the same output. What they left in Redis must be ignored
  // (never served, never a crash) and replaced.
  describe('entries written under the scrypt scheme (before the upgrade)', () => {
    const sandbox = useSandbox();

    /** Exactly what the old release wrote for a client: its key and its sealed entry. */
    const scryptEntry = (authUrl: string, clientId: string, clientSecret: string, accessToken: string) => {
      const salt = createHash('sha256')
        .update(`axios-servicetitan-auth/store-key/v1\n${authUrl}\n${clientId}`)
        .digest();
      const output = scryptSync(clientSecret, salt, 48, { N: 2 ** 14, r: 8, p: 1, maxmem: 64 * 1024 * 1024 });
      const key = `servicetitan-token:${output.subarray(0, 16).toString('hex')}`;
      const now = Date.now();
      const sealed = new TokenCipher(output.subarray(16).toString('hex')).seal(`st-auth:${key}`, {
        accessToken,
        obtainedAt: now,
        expiresAt: now + 600_000,
      });
      return { key, sealed };
    };

    test('an old entry and a held old lock are never read: the client fetches, no warning, no wait', async () => {
      const redis = connect();
      await redis.flushall();
      const old = scryptEntry(sandbox().authUrl, sandbox().clientId, sandbox().clientSecret, 'tok-from-old-release');
      await redis.set(`st-auth:${old.key}`, old.sealed, 'PX', 600_000);
      // An old process in the middle of a fetch, during a rolling upgrade.
      await redis.set(`st-auth:lock:${old.key}`, 'old-owner', 'PX', 600_000);
      const warnings: string[] = [];
      const store = new RedisTokenStore(redis, { commandTimeoutMs: 1_000 });
      stores.push(store);
      const client = createServiceTitanClient({
        ...authOptions(sandbox(), { store, logger: { warn: (message) => warnings.push(message) } }),
        rateLimit: false,
      });
      const started = performance.now();
      expect((await client.get(customersPath(sandbox()))).status).toBe(200);
      // Not held up by the old lock (the fleet wait is seconds).
      expect(performance.now() - started).toBeLessThan(2_000);
      expect(sandbox().token.count).toBe(1);
      expect(sandbox().api.requests.map((request) => request.tokenId)).toEqual(['tok-1']);
      expect(warnings).toEqual([]);
      // The old keys are left to expire; the new entry lives under the v2 key.
      const { key } = deriveStoreBinding(sandbox().authUrl, sandbox().clientId, sandbox().clientSecret);
      expect((await redis.keys('*')).sort()).toEqual(
        [`st-auth:${old.key}`, `st-auth:lock:${old.key}`, `st-auth:{${key}}`].sort(),
      );
    });

    test('an old-scheme value under the new key is a miss (one warning), replaced by the next fetch', async () => {
      const redis = connect();
      await redis.flushall();
      const { key } = deriveStoreBinding(sandbox().authUrl, sandbox().clientId, sandbox().clientSecret);
      const old = scryptEntry(sandbox().authUrl, sandbox().clientId, sandbox().clientSecret, 'tok-from-old-release');
      await redis.set(`st-auth:{${key}}`, old.sealed, 'PX', 600_000);
      const warnings: string[] = [];
      const join = () => {
        const logger = { warn: (message: string) => warnings.push(message) };
        const store = new RedisTokenStore(connect(), { commandTimeoutMs: 1_000, logger });
        stores.push(store);
        return createServiceTitanClient({
          ...authOptions(sandbox(), { store, logger }),
          rateLimit: false,
        });
      };
      expect((await join().get(customersPath(sandbox()))).status).toBe(200);
      expect(warnings.filter((message) => /cannot be decrypted/.test(message))).toHaveLength(1);
      // Replaced: another process adopts the new token without fetching.
      expect((await join().get(customersPath(sandbox()))).status).toBe(200);
      // Not a fallback to fetching per process (a command timeout), which would fetch a second token.
      expect(warnings.filter((message) => !/cannot be decrypted/.test(message))).toEqual([]);
      expect(sandbox().token.count).toBe(1);
      expect(sandbox().api.requests.map((request) => request.tokenId)).toEqual(['tok-1', 'tok-1']);
    });
  });

  describe('entries it cannot read are misses, with one warning', () => {
    const now = Date.now();
    const entry = { accessToken: 'tok-secret', obtainedAt: now, expiresAt: now + 60_000 };

    test('another encryption key → miss', async () => {
      const warnings: string[] = [];
      await makeStore({ encryptionKey: randomBytes(32) }).set('k-wrong', entry);
      const reader = makeStore({ logger: { warn: (message) => warnings.push(message) } });
      await expect(reader.get('k-wrong')).resolves.toBeUndefined();
      await expect(reader.get('k-wrong')).resolves.toBeUndefined();
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toMatch(/cannot be decrypted/);
    });

    test('a key derived from another client secret → miss; from the same secret → hit', async () => {
      const secret = `cs1.${randomBytes(24).toString('hex')}`;
      await makeStore({ clientSecret: secret }).set('k-secret', entry);
      await expect(makeStore({ clientSecret: secret }).get('k-secret')).resolves.toEqual(entry);
      await expect(
        makeStore({ clientSecret: `cs1.${randomBytes(24).toString('hex')}` }).get('k-secret'),
      ).resolves.toBeUndefined();
      await expect(makeStore().get('k-secret')).resolves.toBeUndefined();
    });

    test('corrupted values → miss', async () => {
      const redis = connect();
      const warnings: string[] = [];
      const store = makeStore({ logger: { warn: (message) => warnings.push(message) } }, redis);
      await store.set('k-corrupt', entry);
      const sealed = (await redis.get('st-auth:{k-corrupt}'))!;
      const flipped = `${sealed.slice(0, -3)}${sealed.at(-3) === 'A' ? 'B' : 'A'}${sealed.slice(-2)}`;
      for (const value of [flipped, 'not an entry', 'v1.', 'v1.AAAA', JSON.stringify(entry)]) {
        await redis.set('st-auth:{k-corrupt}', value);
        await expect(store.get('k-corrupt')).resolves.toBeUndefined();
      }
      expect(warnings).toHaveLength(1);
      // A value copied under another key does not decrypt either (the key is authenticated).
      await redis.set('st-auth:{k-copy}', sealed);
      await expect(store.get('k-copy')).resolves.toBeUndefined();
    });
  });

  describe('configuration', () => {
    test('never stores in clear: without encryptionKey, each key is encrypted with its own client secret', async () => {
      const redis = connect();
      const token = { accessToken: 'tok.secret.value', expiresAt: Date.now() + 60_000, obtainedAt: Date.now() };
      const bare = () => {
        const store = new RedisTokenStore(redis, { commandTimeoutMs: 1_000 });
        stores.push(store);
        return store;
      };
      const unbound = bare();
      await expect(unbound.set('k-unbound', token)).rejects.toMatchObject({ code: 'invalid_config' });
      expect(await redis.get('st-auth:{k-unbound}')).toBeNull();

      const writer = bare();
      writer.bindClientSecret('k-bound', 'cs1.secret-of-client-a-0123456789');
      await writer.set('k-bound', token);
      const sameSecret = bare();
      sameSecret.bindClientSecret('k-bound', 'cs1.secret-of-client-a-0123456789');
      await expect(sameSecret.get('k-bound')).resolves.toMatchObject({ accessToken: token.accessToken });
      const otherSecret = bare();
      otherSecret.bindClientSecret('k-bound', 'cs1.secret-of-client-b-0123456789');
      await expect(otherSecret.get('k-bound')).resolves.toBeUndefined();
      expect(await redis.get('st-auth:{k-bound}')).not.toContain(token.accessToken);
    });

    test('refuses short keys, naming the option and not the value', () => {
      const redis = connect();
      expect(() => new RedisTokenStore(redis, { encryptionKey: 'short-key' })).toThrow(
        /encryptionKey must be at least 16 bytes/,
      );
      expect(() => new RedisTokenStore(redis, { clientSecret: 'short-secret' })).toThrow(
        /clientSecret must be at least 16 bytes/,
      );
      try {
        new RedisTokenStore(redis, { clientSecret: 'short-secret' });
      } catch (error) {
        expect(String((error as Error).message)).not.toContain('short-secret');
      }
    });

    test('refuses bad commandTimeoutMs and a missing client', () => {
      expect(() => new RedisTokenStore(connect(), { encryptionKey, commandTimeoutMs: 0 })).toThrow(/commandTimeoutMs/);
      expect(() => new RedisTokenStore(undefined as unknown as Redis, { encryptionKey })).toThrow(/ioredis client/);
    });

    test('util.inspect shows neither the client nor the key', () => {
      const store = makeStore({ clientSecret: 'cs1.a-very-secret-client-secret' });
      const shown = inspect(store, { depth: 5, showHidden: true });
      expect(shown).toBe('RedisTokenStore { keyPrefix: "st-auth:" }');
    });
  });

  describe('an unreachable Redis fails fast, within commandTimeoutMs', () => {
    test('every operation rejects after commandTimeoutMs, even with the offline queue on', async () => {
      const port = await freePort();
      const redis = new Redis(port, '127.0.0.1', {
        enableOfflineQueue: true,
        maxRetriesPerRequest: null,
        retryStrategy: () => 50,
      });
      redis.on('error', () => undefined);
      clients.push(redis);
      const store = makeStore({ commandTimeoutMs: 150 }, redis);
      const now = Date.now();
      const started = Date.now();
      const outcomes = await Promise.allSettled([
        store.get('k'),
        store.set('k', { accessToken: 'tok', obtainedAt: now, expiresAt: now + 60_000 }),
        store.delete('k'),
        store.acquireLock('k', 1_000),
        store.waitForToken('k', { timeoutMs: 10_000 }),
      ]);
      expect(Date.now() - started).toBeLessThan(1_500);
      for (const outcome of outcomes) {
        expect(outcome.status).toBe('rejected');
        expect(String((outcome as PromiseRejectedResult).reason)).toMatch(/RedisTokenStore: .* timed out after 150 ms/);
      }
    });

    test('a closed client rejects at once', async () => {
      const redis = connect();
      const store = makeStore({}, redis);
      await redis.quit();
      await expect(store.get('k')).rejects.toThrow(/RedisTokenStore: GET failed/);
      await expect(store.waitForToken('k', { timeoutMs: 5_000 })).rejects.toThrow(/RedisTokenStore/);
    });
  });

  describe('the pub/sub connection', () => {
    // What Redis shows is polled for, within a bound, not looked at after a fixed 50 ms: on a busy
    // machine (load 13-17 on 2 cores) a SUBSCRIBE or a disconnection took longer now and then.
    const subscribers = async (redis: Redis) =>
      String(await redis.client('LIST'))
        .split('\n')
        .filter((line) => / sub=[1-9]/.test(line)).length;
    const connections = async (redis: Redis) =>
      String(await redis.client('LIST'))
        .trim()
        .split('\n').length;

    test('is opened once, shared by all waits, and closed by close()', async () => {
      const redis = connect();
      const store = makeStore({}, redis);
      // Long waits: they must still be listening when Redis is looked at; tokens end them.
      const waits = Array.from({ length: 10 }, (_, i) => store.waitForToken(`k-sub-${i % 3}`, { timeoutMs: 20_000 }));
      expect(await eventually(async () => (await redis.pubsub('CHANNELS', 'st-auth:*')).length === 3)).toBe(true);
      expect(await subscribers(redis)).toBe(1);
      const now = Date.now();
      for (let i = 0; i < 3; i += 1) {
        await store.set(`k-sub-${i}`, { accessToken: `tok-${i}`, obtainedAt: now, expiresAt: now + 60_000 });
      }
      expect((await Promise.all(waits)).map((token) => token?.accessToken)).toEqual(
        Array.from({ length: 10 }, (_, i) => `tok-${i % 3}`),
      );
      // Channels no wait needs any more are unsubscribed.
      expect(await eventually(async () => (await redis.pubsub('CHANNELS', 'st-auth:*')).length === 0)).toBe(true);
      await store.close();
      await store.close();
      await expect(store.waitForToken('k', { timeoutMs: 100 })).rejects.toThrow(/closed/);
      expect(await eventually(async () => (await connections(redis)) === 1)).toBe(true);
    });

    test('ends when the user quits the client, and pending waits stop at once', async () => {
      const redis = connect();
      const store = makeStore({}, redis);
      const wait = store.waitForToken('k-end', { timeoutMs: 10_000 });
      const observer = connect();
      expect(await eventually(async () => (await subscribers(observer)) === 1)).toBe(true);
      const started = Date.now();
      await redis.quit();
      await expect(wait).rejects.toThrow(/RedisTokenStore/);
      expect(Date.now() - started).toBeLessThan(1_000);
      // Only the observer is left.
      expect(await eventually(async () => (await connections(observer)) === 1)).toBe(true);
    });
  });
});
