import type { StoredToken, TokenStore } from './types';

/**
 * The default store: a Map in this process. Share one instance between several attached
 * instances or clients to let them share tokens (same token URL + client id).
 */
export class MemoryTokenStore implements TokenStore {
  readonly #entries = new Map<string, StoredToken>();

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
  }

  async delete(key: string): Promise<void> {
    this.#entries.delete(key);
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
