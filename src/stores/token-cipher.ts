import { createCipheriv, createDecipheriv, hkdfSync, randomFillSync } from 'node:crypto';
import type { StoredToken } from './types';

const VERSION = 'v1';
const IV_BYTES = 12;
const TAG_BYTES = 16;
/** Domain separation: a key derived here is useless for anything else. */
const HKDF_SALT = 'axios-servicetitan-auth/token-store/v1';
const HKDF_INFO = 'aes-256-gcm stored token';
/** The least key material accepted, in bytes (a ServiceTitan client secret is far longer). */
export const MIN_SECRET_BYTES = 16;

/**
 * IVs are cut from a pool of random bytes refilled 4 KiB at a time (as Node's `randomUUID` does):
 * each `randomBytes(12)` call was a job of its own, ~35 µs of the main thread, a third of sealing
 * an entry, paid once per tenant on a cold start (issue 18). The bytes are the same CSPRNG's.
 */
const IV_POOL_BYTES = 4096 - (4096 % IV_BYTES);
const ivPool = Buffer.alloc(IV_POOL_BYTES);
let ivPoolOffset = IV_POOL_BYTES;

/** A fresh random IV, a copy (the pool's bytes are not handed out twice). */
function nextIv(): Buffer {
  if (ivPoolOffset === IV_POOL_BYTES) {
    randomFillSync(ivPool);
    ivPoolOffset = 0;
  }
  const iv = Buffer.from(ivPool.subarray(ivPoolOffset, ivPoolOffset + IV_BYTES));
  ivPoolOffset += IV_BYTES;
  return iv;
}

/**
 * Encrypts stored tokens at rest: AES-256-GCM of the JSON entry, with a key derived by
 * HKDF-SHA256 from a secret, a fresh 96-bit IV per entry, and the store key as additional
 * authenticated data, so an entry copied under another key does not decrypt either.
 *
 * HKDF does no key stretching: the secret must be high-entropy (a random key, or the client
 * secret, which is one), not a password.
 */
export class TokenCipher {
  readonly #key: Buffer;

  constructor(secret: string | Uint8Array) {
    const material = typeof secret === 'string' ? Buffer.from(secret, 'utf8') : Buffer.from(secret);
    if (material.length < MIN_SECRET_BYTES) throw new RangeError(`at least ${MIN_SECRET_BYTES} bytes are needed`);
    this.#key = Buffer.from(hkdfSync('sha256', material, HKDF_SALT, HKDF_INFO, 32));
  }

  /** `v1.<base64url(iv ‖ ciphertext ‖ tag)>`: the token never appears in clear. */
  seal(storeKey: string, token: StoredToken): string {
    const iv = nextIv();
    const cipher = createCipheriv('aes-256-gcm', this.#key, iv);
    cipher.setAAD(Buffer.from(storeKey, 'utf8'));
    const entry: StoredToken = {
      accessToken: token.accessToken,
      expiresAt: token.expiresAt,
      obtainedAt: token.obtainedAt,
      ...(token.scope === undefined ? {} : { scope: token.scope }),
    };
    const body = Buffer.concat([cipher.update(JSON.stringify(entry), 'utf8'), cipher.final()]);
    return `${VERSION}.${Buffer.concat([iv, body, cipher.getAuthTag()]).toString('base64url')}`;
  }

  /**
   * The entry sealed under `storeKey`, or `undefined` if it was not sealed by this key (another
   * key, another store key), was tampered with, or is not a stored token.
   */
  open(storeKey: string, sealed: string): StoredToken | undefined {
    if (!sealed.startsWith(`${VERSION}.`)) return undefined;
    const raw = Buffer.from(sealed.slice(VERSION.length + 1), 'base64url');
    if (raw.length <= IV_BYTES + TAG_BYTES) return undefined;
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.#key, raw.subarray(0, IV_BYTES));
      decipher.setAAD(Buffer.from(storeKey, 'utf8'));
      decipher.setAuthTag(raw.subarray(raw.length - TAG_BYTES));
      const json = Buffer.concat([decipher.update(raw.subarray(IV_BYTES, raw.length - TAG_BYTES)), decipher.final()]);
      return toStoredToken(JSON.parse(json.toString('utf8')));
    } catch {
      return undefined;
    }
  }

  /** Hides the key from `console.log` / `util.inspect`. */
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return 'TokenCipher { aes-256-gcm }';
  }
}

function toStoredToken(value: unknown): StoredToken | undefined {
  if (value === null || typeof value !== 'object') return undefined;
  const { accessToken, expiresAt, obtainedAt, scope } = value as Record<string, unknown>;
  if (typeof accessToken !== 'string' || accessToken === '') return undefined;
  if (typeof expiresAt !== 'number' || !Number.isFinite(expiresAt)) return undefined;
  if (typeof obtainedAt !== 'number' || !Number.isFinite(obtainedAt)) return undefined;
  if (scope !== undefined && typeof scope !== 'string') return undefined;
  return { accessToken, expiresAt, obtainedAt, ...(scope === undefined ? {} : { scope }) };
}
