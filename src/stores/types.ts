/** A token as kept in a {@link TokenStore}: everything needed to reuse it, nothing else. */
export interface StoredToken {
  /** The bearer token. Stores must treat it as a secret (never log it). */
  accessToken: string;
  /** When the token expires, in ms since the epoch, measured from when it was requested. */
  expiresAt: number;
  /** When the token was requested, in ms since the epoch. */
  obtainedAt: number;
  /** The `scope` the token endpoint reported, if any. */
  scope?: string;
}

/**
 * Where tokens are kept between requests (and, for shared stores, between processes).
 * Keys are derived (HMAC-SHA256 keyed with the client secret, of the token URL and client id), so
 * a client is served only the entries of clients that hold the same secret (DESIGN guarantee 14),
 * and a key reveals neither the secret nor the client id.
 *
 * Implementations may fail (a network store going down): the library then falls back to its
 * in-process cache and logs a warning, so a store outage never fails requests.
 */
export interface TokenStore {
  /** The token stored under `key`, or `undefined` if there is none or it has expired. */
  get(key: string): Promise<StoredToken | undefined>;
  /** Stores `token` under `key` until `token.expiresAt`. */
  set(key: string, token: StoredToken): Promise<void>;
  /** Forgets the token under `key`. */
  delete(key: string): Promise<void>;
  /**
   * Optional, for stores shared by several processes: fleet-wide single flight. Tries to become
   * the one holder that fetches `key`'s token; resolves to the lock, or `undefined` if another
   * holder has it. The lock must expire by itself after `ttlMs`, so a holder that dies frees it.
   */
  acquireLock?(key: string, ttlMs: number): Promise<TokenLock | undefined>;
  /**
   * Optional, with `acquireLock`: the token stored under `key` if there is one; otherwise the
   * outcome of trying to take the lock (as `acquireLock`), in one atomic step. A network store
   * answers it in one round trip where `get`, `acquireLock` and the `get` again that catches a
   * token stored in between take three: a cold start of thousands of tenants makes them one
   * after another inside the token limiter, so each round trip there delays every later tenant.
   */
  getOrLock?(key: string, ttlMs: number): Promise<TokenOrLock>;
  /**
   * Optional, with `acquireLock`: waits until a token other than `except` is stored under `key`
   * (resolving to it, at once if one already is) or the lock on `key` is released without one,
   * or `timeoutMs` passes (resolving to `undefined`).
   */
  waitForToken?(key: string, options: WaitForTokenOptions): Promise<StoredToken | undefined>;
  /**
   * Optional: called by each client before it uses `key`, with key material derived from its
   * client secret (by the same keyed hash as the key, never the secret itself), for
   * stores that encrypt entries with it (so each client's tokens are readable only by processes
   * that know its secret). The store must never persist or log it.
   */
  bindClientSecret?(key: string, clientSecret: string): void;
}

/** What {@link TokenStore.getOrLock} found: the stored token, or the outcome of trying to take the lock. */
export type TokenOrLock = { token: StoredToken; lock?: undefined } | { token?: undefined; lock: TokenLock | undefined };

/** A held fleet-wide lock; released only by its holder. */
export interface TokenLock {
  release(): Promise<void>;
  /**
   * Optional: stores `token` under the locked key (as `set`) and releases the lock, in one step
   * (one round trip instead of two); those waiting are told once, and find the token. Afterwards
   * `release` does nothing.
   */
  storeAndRelease?(token: StoredToken): Promise<void>;
}

export interface WaitForTokenOptions {
  timeoutMs: number;
  /** A token not to resolve with (the one the API just rejected). */
  except?: string;
  /**
   * The caller found the lock held (another process fetches): also resolve `undefined` when, by
   * the time the store listens, no one holds it any more. A release announced before the store
   * listened would otherwise go unseen, and the wait last its whole `timeoutMs`.
   * @default false
   */
  lockSeenHeld?: boolean;
}
