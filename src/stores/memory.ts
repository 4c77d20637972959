import { EventEmitter } from 'node:events';
import type { StoredToken, TokenLock, TokenOrLock, TokenStore, WaitForTokenOptions } from './types';

/**
 * How many entries each write looks at for expiry. Bounded so a write stays O(1); a rotating
 * cursor makes every entry looked at within `size / SWEEP_BATCH` writes, so entries of tenants
 * that are never read again cannot pile up while the store is written to.
 */
const SWEEP_BATCH = 8;

/**
 * The default store: a Map in this process. Share one instance between several attached
 * instances or clients to let them share tokens (same token URL + client id); its lock gives
 * them one token fetch at a time, as a Redis store does across processes.
 *
 * Expired tokens are dropped when read, and each write sweeps a few entries,
 * so a long-lived process serving many tenants does not keep every token it ever fetched.
 *
 * @example
 * const store = new MemoryTokenStore();
 * const a = createServiceTitanClient({ ...options, tenantId: 1000, store });
 * const b = createServiceTitanClient({ ...options, tenantId: 1000, store }); // shares a's token
 */
export class MemoryTokenStore implements TokenStore {
  readonly #entries = new Map<string, StoredToken>();
  readonly #locks = new Map<string, { owner: symbol; expiresAt: number }>();
  readonly #changes = new EventEmitter().setMaxListeners(0);
  #entryCursor: Iterator<[string, StoredToken]> | undefined;

  async get(key: string): Promise<StoredToken | undefined> {
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.expiresAt <= Date.now()) {
      this.#entries.delete(key);
      return undefined;
    }
    return entry;
  }

  async set(key: string, token: StoredToken): Promise<void> {
    this.#sweep();
    this.#entries.set(key, { ...token });
    this.#changes.emit(key);
  }

  async delete(key: string): Promise<void> {
    this.#entries.delete(key);
  }

  async acquireLock(key: string, ttlMs: number): Promise<TokenLock | undefined> {
    const held = this.#locks.get(key);
    if (held !== undefined && held.expiresAt > Date.now()) return undefined;
    const owner = Symbol('lock owner');
    this.#locks.set(key, { owner, expiresAt: Date.now() + ttlMs });
    const release = () => {
      if (this.#locks.get(key)?.owner !== owner) return;
      this.#locks.delete(key);
      this.#changes.emit(key);
    };
    return {
      release: async () => release(),
      storeAndRelease: async (token) => {
        await this.set(key, token);
        release();
      },
    };
  }

  async getOrLock(key: string, ttlMs: number): Promise<TokenOrLock> {
    const token = await this.get(key);
    return token === undefined ? { lock: await this.acquireLock(key, ttlMs) } : { token };
  }

  async waitForToken(
    key: string,
    { timeoutMs, except, lockSeenHeld = false }: WaitForTokenOptions,
  ): Promise<StoredToken | undefined> {
    const current = await this.get(key);
    if (current !== undefined && current.accessToken !== except) return current;
    const lock = this.#locks.get(key);
    if (lockSeenHeld && (lock === undefined || lock.expiresAt <= Date.now())) return undefined;
    return new Promise((resolve) => {
      const onChange = () => {
        cleanup();
        void this.get(key).then((token) => resolve(token?.accessToken === except ? undefined : token));
      };
      const timer = setTimeout(() => {
        cleanup();
        resolve(undefined);
      }, timeoutMs).unref();
      const cleanup = () => {
        clearTimeout(timer);
        this.#changes.off(key, onChange);
      };
      this.#changes.on(key, onChange);
    });
  }

  /** Number of entries held (an expired one is included until it is read or swept by a write). */
  get size(): number {
    return this.#entries.size;
  }

  /** Drops the expired entries among the next {@link SWEEP_BATCH}. */
  #sweep(): void {
    this.#entryCursor = sweepSome(this.#entries, this.#entryCursor, Date.now());
  }

  /** Hides the tokens from `console.log` / `util.inspect`. */
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `MemoryTokenStore { size: ${this.#entries.size} }`;
  }
}

/**
 * Looks at up to SWEEP_BATCH entries from `cursor` (a live Map iterator: deleting the entry
 * just visited is safe), deletes the expired ones, and returns where to continue next time.
 */
function sweepSome<V extends { expiresAt: number }>(
  map: Map<string, V>,
  cursor: Iterator<[string, V]> | undefined,
  now: number,
): Iterator<[string, V]> | undefined {
  let current = cursor ?? map.entries();
  for (let seen = 0; seen < SWEEP_BATCH && map.size > 0; seen += 1) {
    let next = current.next();
    if (next.done === true) {
      current = map.entries();
      next = current.next();
      if (next.done === true) break;
    }
    const [key, value] = next.value;
    if (value.expiresAt <= now) map.delete(key);
  }
  return current;
}
