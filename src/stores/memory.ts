import { EventEmitter } from 'node:events';
import type { StoredToken, TokenLock, TokenStore, WaitForTokenOptions } from './types';

/**
 * The default store: a Map in this process. Share one instance between several attached
 * instances or clients to let them share tokens (same token URL + client id); its lock gives
 * them one token fetch at a time, as a Redis store does across processes.
 *
 * @example
 * const store = new MemoryTokenStore();
 * const reports = createServiceTitanClient({ ...options, store });
 * const sync = createServiceTitanClient({ ...options, store }); // same credentials: one token for both
 */
export class MemoryTokenStore implements TokenStore {
  readonly #entries = new Map<string, StoredToken>();
  readonly #locks = new Map<string, { owner: symbol; expiresAt: number }>();
  readonly #changes = new EventEmitter().setMaxListeners(0);

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
    return {
      release: async () => {
        if (this.#locks.get(key)?.owner !== owner) return;
        this.#locks.delete(key);
        this.#changes.emit(key);
      },
    };
  }

  async waitForToken(key: string, { timeoutMs, except }: WaitForTokenOptions): Promise<StoredToken | undefined> {
    const current = await this.get(key);
    if (current !== undefined && current.accessToken !== except) return current;
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

  /** Number of entries held (expired ones included until they are next read). */
  get size(): number {
    return this.#entries.size;
  }

  /** Hides the tokens from `console.log` / `util.inspect`. */
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `MemoryTokenStore { size: ${this.#entries.size} }`;
  }
}
