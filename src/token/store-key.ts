import { createHash, scrypt } from 'node:crypto';

/**
 * scrypt cost: N = 2^14, r = 8 (16 MiB, tens of ms): Node's own default, and the figure of the
 * scrypt paper for interactive logins. Run once per client and process, off the event loop.
 */
const SCRYPT = { N: 2 ** 14, r: 8, p: 1, maxmem: 64 * 1024 * 1024 } as const;
const KEY_BYTES = 16;
const ENTRY_SECRET_BYTES = 32;
/** Domain separation: this derivation is used for store keys only. */
const SALT_LABEL = 'axios-servicetitan-auth/store-key/v1';
/** Clients whose key is remembered; bounded, so a process that cycles credentials cannot grow it forever. */
const MEMO_LIMIT = 256;

const memo = new Map<string, Promise<StoreBinding>>();

/** What a client's entries in a shared store are bound to, both derived from its client secret. */
export interface StoreBinding {
  /** The store key: `servicetitan-token:<32 hex>`. */
  key: string;
  /**
   * Key material for stores that encrypt entries (`TokenStore.bindClientSecret`): other bytes of
   * the same scrypt output, so neither the raw secret nor a fast function of it reaches a store.
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
 * Why this derivation is safe to show to anyone who can read the store: it is scrypt, a slow,
 * memory-hard KDF, of the secret, salted with the token URL and client id. The salt makes every
 * client's keys unrelated (no precomputed tables, no cross-client comparison), and the cost makes
 * every guess of a secret expensive to check against a key, unlike a fast hash would. The client
 * secret is high-entropy to begin with; the key reveals neither it nor the client id.
 *
 * @example
 * const key = await tokenStoreKey(environments.production.authUrl, clientId, clientSecret);
 */
export async function tokenStoreKey(authUrl: string, clientId: string, clientSecret: string): Promise<string> {
  return (await storeBinding(authUrl, clientId, clientSecret)).key;
}

/**
 * The store key and the entry-encryption material of a client (see {@link tokenStoreKey}), from
 * one scrypt derivation, remembered per process.
 *
 * @example
 * const { key, entrySecret } = await storeBinding(authUrl, clientId, clientSecret);
 * store.bindClientSecret?.(key, entrySecret);
 */
export function storeBinding(authUrl: string, clientId: string, clientSecret: string): Promise<StoreBinding> {
  const salt = createHash('sha256').update(`${SALT_LABEL}\n${authUrl}\n${clientId}`).digest();
  const memoKey = `${salt.toString('hex')}\n${clientSecret}`;
  const known = memo.get(memoKey);
  if (known !== undefined) return known;
  const derived = new Promise<StoreBinding>((resolve, reject) => {
    scrypt(clientSecret, salt, KEY_BYTES + ENTRY_SECRET_BYTES, SCRYPT, (error, output) => {
      if (error !== null) return reject(error);
      resolve({
        key: `servicetitan-token:${output.subarray(0, KEY_BYTES).toString('hex')}`,
        entrySecret: output.subarray(KEY_BYTES).toString('hex'),
      });
    });
  });
  if (memo.size >= MEMO_LIMIT) memo.delete(memo.keys().next().value!);
  memo.set(memoKey, derived);
  // A failed derivation (out of memory) is not remembered: the next call tries again.
  derived.catch(() => memo.delete(memoKey));
  return derived;
}
