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
 * Keys are derived from the token URL and the client id, never from the secret.
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
}
