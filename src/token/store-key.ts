import { createHmac } from 'node:crypto';

const KEY_BYTES = 16;
/**
 * Domain separation: this derivation is used for store keys only. `v2`: HMAC-SHA256 (`v1` was
 * scrypt); the version is part of every key, so entries written under `v1` are never looked up.
 */
const LABEL = 'axios-servicetitan-auth/store-key/v2';
const KEY_PURPOSE = 'store key';
const ENTRY_SECRET_PURPOSE = 'entry secret';

/** What a client's entries in a shared store are bound to, both derived from its client secret. */
export interface StoreBinding {
  /** The store key: `servicetitan-token:v2:<32 hex>`. */
  key: string;
  /**
   * Key material for stores that encrypt entries (`TokenStore.bindClientSecret`): another output
   * of the same keyed hash (another purpose), so neither the raw secret nor the store key reaches
   * a store as encryption material.
   */
  entrySecret: string;
}

/**
 * The key under which a client's token lives in a store, bound to its client secret (DESIGN
 * guarantee 14): every process holding the same token URL, client id and secret gets the same
 * key (one entry, one fetch lock across the fleet), and a client with another secret (a wrong or
 * rotated one) gets another key, so it misses and is rejected by ServiceTitan itself instead of
 * being served someone else's token.
 *
 * @example
 * const key = await tokenStoreKey(environments.production.authUrl, clientId, clientSecret);
 */
export async function tokenStoreKey(authUrl: string, clientId: string, clientSecret: string): Promise<string> {
  return deriveStoreBinding(authUrl, clientId, clientSecret).key;
}

/**
 * The store key and the entry-encryption material of a client (see {@link deriveStoreBinding}),
 * as a promise, the shape the token provider awaits.
 *
 * @example
 * const { key, entrySecret } = await storeBinding(authUrl, clientId, clientSecret);
 * store.bindClientSecret?.(key, entrySecret);
 */
export function storeBinding(authUrl: string, clientId: string, clientSecret: string): Promise<StoreBinding> {
  return Promise.resolve(deriveStoreBinding(authUrl, clientId, clientSecret));
}

/**
 * HMAC-SHA256 keyed with the client secret, of (label, purpose, token URL, client id): one
 * output per purpose, the store key (16 bytes of it) and the entry secret.
 *
 * Why a fast keyed hash is enough, where `v1` used scrypt: whoever reads the store sees keys
 * (and values encrypted under the entry secret) and could test a guessed secret against them
 * offline. A slow KDF makes each guess ~10^5 times dearer, i.e. adds ~17 bits of work: decisive
 * for a password, irrelevant for a ServiceTitan client secret, a long random string (the
 * sandbox's, like the real ones, carries well over 128 bits): 2^128 guesses at any price per
 * guess are out of reach. So the HMAC binds an entry to its secret as well as scrypt did, and the
 * token URL and client id in the message keep every client's keys unrelated (no precomputed
 * tables, no cross-client comparison); the key reveals neither the secret nor the client id. What
 * scrypt cost instead was real: ~20-90 ms of libuv's thread pool per client and process, so a
 * cold start over 2,000 tenants held every `fs`/`dns` call of the process for minutes (issue 18).
 * This takes microseconds on the calling thread: no memo, no pool, no async resource.
 *
 * @example
 * const { key } = deriveStoreBinding(authUrl, clientId, clientSecret);
 */
export function deriveStoreBinding(authUrl: string, clientId: string, clientSecret: string): StoreBinding {
  // JSON: an unambiguous encoding of the fields (no split of one message can read as another).
  const derive = (purpose: string) =>
    createHmac('sha256', clientSecret)
      .update(JSON.stringify([LABEL, purpose, authUrl, clientId]))
      .digest();
  return {
    key: `servicetitan-token:v2:${derive(KEY_PURPOSE).subarray(0, KEY_BYTES).toString('hex')}`,
    entrySecret: derive(ENTRY_SECRET_PURPOSE).toString('hex'),
  };
}
