import { createHash } from 'node:crypto';
import { abortable } from './abort';
import { isServiceTitanAuthError, type ServiceTitanAuthError } from './errors';
import { tokenFingerprint, warnDegraded } from './logger';
import type { ResolvedOptions } from './options';
import type { StoredToken } from './stores/types';
import { createTokenRequester, type TokenRequester } from './token-request';

/** Options of {@link ServiceTitanAuth.getToken}. */
export interface GetTokenOptions {
  /** Fetch a new token even if the cached one is still fresh. @default false */
  forceRefresh?: boolean;
  /** Stop waiting when this aborts; a shared token fetch goes on for the other callers. */
  signal?: AbortSignal;
}

/**
 * Owns one client's token: the in-process cache, the shared store, renewal ahead of expiry and
 * single flight. Concurrent callers share one fetch (`inflight`); fetches of all handles that
 * share a `tokenLimiter` queue through it and re-check the store once they hold the slot.
 */
export class TokenProvider {
  readonly #options: ResolvedOptions;
  readonly #requestToken: TokenRequester;
  readonly #storeKey: string;
  #current: StoredToken | undefined;
  #inflight: Promise<StoredToken> | undefined;
  /** A token the API rejected: never adopted again from the store. */
  #rejected: string | undefined;
  /** The token last obtained because of a 401, and when: not renewed again for a 401 too soon. */
  #renewedForRejection: { token: StoredToken; at: number; warned: boolean } | undefined;
  #cooldown: { until: number; error: ServiceTitanAuthError } | undefined;
  #storeFailing = false;
  #storeRetryAt = 0;

  constructor(options: ResolvedOptions, requestToken: TokenRequester = createTokenRequester(options)) {
    this.#options = options;
    this.#requestToken = requestToken;
    this.#storeKey = tokenStoreKey(options.authUrl, options.clientId);
    options.store.bindClientSecret?.(this.#storeKey, options.clientSecret);
  }

  /** The key under which this client's token lives in the store. */
  get storeKey(): string {
    return this.#storeKey;
  }

  /**
   * The cached token if it can be used right now, without waiting. A token inside the renewal
   * window is still returned, and a background renewal is started.
   */
  peek(): string | undefined {
    const current = this.#current;
    if (current === undefined) return undefined;
    const now = Date.now();
    if (now >= current.expiresAt) return undefined;
    if (now >= renewAt(current, this.#options.refreshBufferMs)) this.#renewInBackground();
    return current.accessToken;
  }

  async getToken({ forceRefresh = false, signal }: GetTokenOptions = {}): Promise<string> {
    signal?.throwIfAborted();
    if (!forceRefresh) {
      const cached = this.peek();
      if (cached !== undefined) return cached;
    }
    const token = await abortable(this.#obtain(forceRefresh), signal);
    return token.accessToken;
  }

  /**
   * Called when the API rejected `failedToken`. Renews only if it is still the current token;
   * if another request already renewed, returns the newer one (M concurrent 401s, one renewal).
   * Resolves to `undefined` (do not replay) when a new token would not cure the 401: see
   * `#rejectedAgainTooSoon`.
   */
  async renewAfterRejection(failedToken: string | undefined, signal?: AbortSignal): Promise<string | undefined> {
    const current = this.#current;
    if (current !== undefined && current.accessToken !== failedToken && Date.now() < current.expiresAt) {
      return current.accessToken;
    }
    if (this.#rejectedAgainTooSoon(failedToken)) return undefined;
    if (failedToken !== undefined && current?.accessToken === failedToken) {
      this.#rejected = failedToken;
      this.#current = undefined;
      this.#options.logger.info?.('token rejected by the API; renewing', { token: tokenFingerprint(failedToken) });
    }
    let token = await abortable(this.#obtain(false), signal);
    // A fetch already in flight may have adopted the rejected token from the store: go once more.
    if (token.accessToken === failedToken) token = await abortable(this.#obtain(true), signal);
    if (this.#renewedForRejection?.token !== token) {
      this.#renewedForRejection = { token, at: Date.now(), warned: false };
    }
    return token.accessToken;
  }

  /**
   * True when `failedToken` was itself obtained for a 401 less than `renewalCooldownMs` ago and
   * is not yet in its renewal window: the API is rejecting something a new token does not cure
   * (the app key, a permission), and renewing for every such request would hammer the token
   * endpoint. Near expiry a 401 may just mean "expired" (the server's clock, whole-second `exp`):
   * then it is renewed. Warns once per token.
   */
  #rejectedAgainTooSoon(failedToken: string | undefined): boolean {
    const recent = this.#renewedForRejection;
    const now = Date.now();
    if (
      recent === undefined ||
      recent.token.accessToken !== failedToken ||
      now - recent.at >= this.#options.renewalCooldownMs ||
      now >= renewAt(recent.token, this.#options.refreshBufferMs)
    ) {
      return false;
    }
    if (!recent.warned) {
      recent.warned = true;
      this.#options.logger.warn?.(
        'a token obtained for a 401 was rejected again: not renewing it (the API may be rejecting the app key or a permission)',
        { token: tokenFingerprint(recent.token.accessToken), renewalCooldownMs: this.#options.renewalCooldownMs },
      );
    }
    return true;
  }

  /** Forgets the cached token here and in the store; the next request fetches a new one. */
  async invalidate(): Promise<void> {
    this.#current = undefined;
    await this.#storeCall(() => this.#options.store.delete(this.#storeKey));
  }

  #renewInBackground(): void {
    // During a cooldown the current token is still good: no fetch, and no warning per request.
    if (this.#inflight !== undefined || this.#inCooldown()) return;
    this.#obtain(false).catch((error: unknown) => {
      this.#options.logger.warn?.('background token renewal failed; the current token is still used', {
        code: isServiceTitanAuthError(error) ? error.code : undefined,
      });
    });
  }

  /** Single flight: joins the fetch in progress, or starts one through the shared limiter. */
  #obtain(force: boolean): Promise<StoredToken> {
    this.#inflight ??= this.#options
      .tokenLimiter(() => this.#obtainHoldingSlot(force))
      .finally(() => {
        this.#inflight = undefined;
      });
    return this.#inflight;
  }

  #inCooldown(): boolean {
    if (this.#cooldown === undefined) return false;
    if (Date.now() < this.#cooldown.until) return true;
    this.#cooldown = undefined;
    return false;
  }

  async #obtainHoldingSlot(force: boolean): Promise<StoredToken> {
    if (this.#inCooldown()) throw this.#cooldown!.error;
    if (!force) {
      const reusable = await this.#adoptFromStore();
      if (reusable !== undefined) return reusable;
    }
    const { store } = this.#options;
    if (store.acquireLock === undefined || store.waitForToken === undefined) return this.#fetch();
    return this.#fetchAsFleet(force);
  }

  /**
   * Fleet-wide single flight on a shared store: one process fetches while the others wait for
   * it to publish. A waiter fetches itself after `fleetWaitMs` (the holder may have died) or when
   * the store fails, so nobody hangs and a store outage never fails a request.
   */
  async #fetchAsFleet(force: boolean): Promise<StoredToken> {
    const { store, fleetWaitMs } = this.#options;
    const deadline = Date.now() + fleetWaitMs;
    for (;;) {
      const lock = await this.#storeCall(() => store.acquireLock!(this.#storeKey, fleetWaitMs));
      if (this.#storeFailing) return this.#fetch();
      if (lock !== undefined) {
        try {
          // Another process may have published between our read and our lock.
          return (force ? undefined : await this.#adoptFromStore()) ?? (await this.#fetch());
        } finally {
          await this.#storeCall(() => lock.release());
        }
      }
      const remaining = deadline - Date.now();
      if (remaining <= 0) return this.#fetch();
      const except = this.#rejected ?? this.#current?.accessToken;
      const published = await this.#storeCall(() =>
        store.waitForToken!(this.#storeKey, { timeoutMs: remaining, ...(except === undefined ? {} : { except }) }),
      );
      if (this.#storeFailing) return this.#fetch();
      if (published !== undefined && this.#isAdoptable(published)) return this.#adopt(published);
    }
  }

  async #adoptFromStore(): Promise<StoredToken | undefined> {
    const stored = await this.#storeCall(() => this.#options.store.get(this.#storeKey));
    return stored !== undefined && this.#isAdoptable(stored) ? this.#adopt(stored) : undefined;
  }

  #isAdoptable(token: StoredToken): boolean {
    return token.accessToken !== this.#rejected && Date.now() < renewAt(token, this.#options.refreshBufferMs);
  }

  #adopt(token: StoredToken): StoredToken {
    this.#current = token;
    this.#options.logger.debug?.('token taken from the store', { token: tokenFingerprint(token.accessToken) });
    return token;
  }

  async #fetch(): Promise<StoredToken> {
    const { logger } = this.#options;
    logger.debug?.('requesting a token', { authUrl: this.#options.authUrl, clientId: this.#options.clientId });
    let token: StoredToken;
    try {
      token = await this.#requestToken();
    } catch (error) {
      this.#startCooldown(error as ServiceTitanAuthError);
      throw error;
    }
    this.#current = token;
    this.#rejected = undefined;
    logger.info?.('token obtained', {
      token: tokenFingerprint(token.accessToken),
      expiresInSeconds: Math.round((token.expiresAt - Date.now()) / 1000),
    });
    await this.#storeCall(() => this.#options.store.set(this.#storeKey, token));
    return token;
  }

  /**
   * Failed token requests count toward ServiceTitan's throttle: after one, every fetch fails fast
   * with the same error until the cooldown (`Retry-After` for a 429) is over.
   */
  #startCooldown(error: ServiceTitanAuthError): void {
    const { logger, rateLimitCooldownMs, failureCooldownMs } = this.#options;
    const wait = error.code === 'rate_limited' ? (error.retryAfterMs ?? rateLimitCooldownMs) : failureCooldownMs;
    logger.error?.('token request failed', { code: error.code, status: error.status, cooldownMs: wait });
    if (wait > 0) this.#cooldown = { until: Date.now() + wait, error };
  }

  /**
   * A failing store degrades to the in-process cache: one warning, never a failed request, and
   * the store is tried again after STORE_RETRY_AFTER_MS.
   */
  async #storeCall<T>(call: () => Promise<T>): Promise<T | undefined> {
    // While the store is down, skip it for a while instead of paying its timeout on every call.
    if (this.#storeFailing && Date.now() < this.#storeRetryAt) return undefined;
    try {
      const result = await call();
      if (this.#storeFailing) this.#options.logger.info?.('token store is reachable again');
      this.#storeFailing = false;
      return result;
    } catch (error) {
      if (!this.#storeFailing) {
        warnDegraded(this.#options.logger, 'token_store', 'token store failed; using the in-process cache', {
          error: error instanceof Error ? error.message : String(error),
        });
      }
      this.#storeFailing = true;
      this.#storeRetryAt = Date.now() + STORE_RETRY_AFTER_MS;
      return undefined;
    }
  }
}

/** How long a failed store is left alone before it is tried again. */
const STORE_RETRY_AFTER_MS = 5_000;

/**
 * When a token should be renewed: `refreshBuffer` before expiry, but never earlier than half
 * its life, so a short-lived token is not renewed on every request.
 */
function renewAt(token: StoredToken, refreshBufferMs: number): number {
  const lifetime = token.expiresAt - token.obtainedAt;
  return token.expiresAt - Math.min(refreshBufferMs, lifetime / 2);
}

/** Store key: a hash of token URL + client id (never the secret), so keys reveal nothing. */
export function tokenStoreKey(authUrl: string, clientId: string): string {
  return `servicetitan-token:${createHash('sha256').update(`${authUrl}\n${clientId}`).digest('hex').slice(0, 32)}`;
}
