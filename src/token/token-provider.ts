import { abortable } from '../abort';
import { isServiceTitanAuthError, type ServiceTitanAuthError } from '../errors';
import { FetchCooldown } from './fetch-cooldown';
import { tokenFingerprint, warnDegraded } from '../logging/logger';
import type { ResolvedOptions } from '../options';
import { RenewalPolicy } from './renewal-policy';
import { storeBinding } from './store-key';
import type { StoredToken, TokenLock } from '../stores/types';
import type { TokenRequestReason } from '../telemetry/attributes';
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
 * share a `tokenLimiter` queue through it and re-check the store once they hold the slot; a
 * wait for another process's token holds none.
 */
export class TokenProvider {
  readonly #options: ResolvedOptions;
  readonly #requestToken: TokenRequester;
  /** Derived from the secret off the event loop (see `storeBinding`); bound to the store before first use. */
  readonly #storeKey: Promise<string>;
  readonly #renewal: RenewalPolicy;
  readonly #cooldown: FetchCooldown;
  #current: StoredToken | undefined;
  #inflight: Promise<StoredToken> | undefined;
  /** A token the API rejected: never adopted again from the store. */
  #rejected: string | undefined;
  #storeFailing = false;
  #storeRetryAt = 0;

  constructor(options: ResolvedOptions, requestToken: TokenRequester = createTokenRequester(options)) {
    this.#options = options;
    this.#requestToken = requestToken;
    this.#renewal = new RenewalPolicy(options.renewalCooldownMs, options.logger);
    this.#cooldown = new FetchCooldown(options);
    // A store of this handle alone holds nobody else's token: no need to pay for a derivation.
    const binding = options.storeIsPrivate
      ? Promise.resolve({ key: PRIVATE_STORE_KEY, entrySecret: options.clientSecret })
      : storeBinding(options.authUrl, options.clientId, options.clientSecret);
    this.#storeKey = binding.then(({ key, entrySecret }) => {
      options.store.bindClientSecret?.(key, entrySecret);
      return key;
    });
    // Awaited inside #storeCall, where a failure degrades to the in-process cache.
    this.#storeKey.catch(() => undefined);
  }

  /** True while a token obtained for a 401 waits for the API to accept it (see {@link accepted}). */
  get awaitingAcceptance(): boolean {
    return this.#renewal.awaitingAcceptance;
  }

  /** The API answered a request that carried `accessToken` with a status that is not a rejection. */
  accepted(accessToken: string | undefined): void {
    this.#renewal.accepted(accessToken);
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
    const token = await abortable(this.#obtain(forceRefresh, forceRefresh ? 'forced' : 'cold'), signal);
    return token.accessToken;
  }

  /**
   * Called when the API rejected `failedToken`. Renews only if it is still the current token;
   * if another request already renewed, returns the newer one (M concurrent 401s, one renewal).
   * Resolves to `undefined` (do not replay) when a new token would probably not cure the 401:
   * see {@link RenewalPolicy}.
   */
  async renewAfterRejection(failedToken: string | undefined, signal?: AbortSignal): Promise<string | undefined> {
    const current = this.#current;
    if (current !== undefined && current.accessToken !== failedToken && Date.now() < current.expiresAt) {
      return current.accessToken;
    }
    if (this.#renewal.holdsBack(failedToken)) return undefined;
    if (failedToken !== undefined && current?.accessToken === failedToken) {
      this.#rejected = failedToken;
      this.#current = undefined;
      this.#options.logger.info?.('token rejected by the API; renewing', { token: tokenFingerprint(failedToken) });
    }
    let token = await abortable(this.#obtain(false, 'after_401'), signal);
    // A fetch already in flight may have adopted the rejected token from the store: go once more.
    if (token.accessToken === failedToken) token = await abortable(this.#obtain(true, 'after_401'), signal);
    this.#renewal.renewedFor401({
      accessToken: token.accessToken,
      renewAt: renewAt(token, this.#options.refreshBufferMs),
    });
    return token.accessToken;
  }

  /** Forgets the cached token here and in the store; the next request fetches a new one. */
  async invalidate(): Promise<void> {
    this.#current = undefined;
    await this.#storeCall(async () => this.#options.store.delete(await this.#storeKey));
  }

  #renewInBackground(): void {
    // During a cooldown the current token is still good: no fetch, and no warning per request.
    if (this.#inflight !== undefined || this.#cooldown.error !== undefined) return;
    this.#obtain(false, 'ahead_of_expiry').catch((error: unknown) => {
      this.#options.logger.warn?.('background token renewal failed; the current token is still used', {
        code: isServiceTitanAuthError(error) ? error.code : undefined,
      });
    });
  }

  /** Single flight: joins the fetch in progress, or starts one through the shared limiter. */
  #obtain(force: boolean, reason: TokenRequestReason): Promise<StoredToken> {
    if (this.#inflight === undefined) this.#options.telemetry.tokenFetchStarting(reason);
    this.#inflight ??= this.#obtainThroughLimiter(force).finally(() => {
      this.#inflight = undefined;
    });
    return this.#inflight;
  }

  /**
   * The limiter bounds token requests at the endpoint; writing a new token to the store is not
   * one, so the slot goes to the next fetch while the token is written. With tokenConcurrency 4
   * over 2,000 tenants, each slot's store round trip was a quarter of the cold start's critical
   * path (issue 18 item 3). Callers still get the token once it is written (or the store failed),
   * as before: a request that completed left its token in the store.
   */
  async #obtainThroughLimiter(force: boolean): Promise<StoredToken> {
    const { store, tokenLimiter } = this.#options;
    const { token, storing } =
      store.acquireLock === undefined || store.waitForToken === undefined
        ? await tokenLimiter(() => this.#adoptOrFetch(force))
        : await this.#fetchAsFleet(force);
    await storing;
    return token;
  }

  /**
   * A store without a fleet lock: read it once the slot is ours, since another handle on the same
   * store and limiter may have stored a token while this one queued.
   */
  async #adoptOrFetch(force: boolean): Promise<Obtained> {
    this.#throwIfCooling();
    if (!force) {
      const reusable = await this.#adoptFromStore();
      if (reusable !== undefined) return { token: reusable };
    }
    return this.#fetch();
  }

  /**
   * Fleet-wide single flight on a shared store: one process fetches while the others wait for
   * it to publish. A waiter fetches itself after `fleetWaitMs` (the holder may have died) or when
   * the store fails, so nobody hangs and a store outage never fails a request.
   *
   * Each turn reads the store and tries the lock in a token slot (another process may have
   * published while this one queued), but waiting for another process's token holds no slot:
   * the turn gives it back and the next turn queues again.
   */
  async #fetchAsFleet(force: boolean): Promise<Obtained> {
    const { store, fleetWaitMs, tokenLimiter } = this.#options;
    const deadline = Date.now() + fleetWaitMs;
    for (let first = true; ; first = false) {
      const step = await tokenLimiter(() => this.#fleetTurn(force, first));
      if (step !== WAIT) return step;
      const remaining = deadline - Date.now();
      if (remaining <= 0) return tokenLimiter(() => this.#fetch());
      const except = this.#rejected ?? this.#current?.accessToken;
      const published = await this.#storeCall(async () =>
        store.waitForToken!(await this.#storeKey, {
          timeoutMs: remaining,
          // Only after losing the lock to another holder (see the loop): released since, the
          // wait ends at once and the next turn tries the lock.
          lockSeenHeld: true,
          ...(except === undefined ? {} : { except }),
        }),
      );
      if (this.#storeFailing) return tokenLimiter(() => this.#fetch());
      if (published !== undefined && this.#isAdoptable(published)) return { token: this.#adopt(published) };
    }
  }

  /**
   * One turn of the fleet path, in a token slot: the store's token, or a fetch under the lock,
   * or {@link WAIT}: another process holds the lock, and this slot is given back while it fetches.
   */
  async #fleetTurn(force: boolean, first: boolean): Promise<Obtained | typeof WAIT> {
    this.#throwIfCooling();
    const found = await this.#adoptOrLock(force, first);
    if (this.#storeFailing) return this.#fetch();
    if (found.adopted !== undefined) return { token: found.adopted };
    const { lock } = found;
    if (lock === undefined) return WAIT;
    const stored = found.recheck ? await this.#adoptFromStore() : undefined;
    if (stored !== undefined) {
      await this.#storeCall(() => lock.release());
      return { token: stored };
    }
    return this.#fetchHoldingLock(lock);
  }

  /** Fetches under the fleet lock, in a token slot; the lock is released however it ends. */
  async #fetchHoldingLock(lock: TokenLock): Promise<Obtained> {
    let handedOver = false;
    try {
      const fetched = await this.#fetch(lock);
      handedOver = true;
      if (lock.storeAndRelease !== undefined) return fetched;
      // Released once the token is written: a waiter woken by the release must find it.
      return { token: fetched.token, storing: fetched.storing.then(() => this.#storeCall(() => lock.release())) };
    } finally {
      if (!handedOver) await this.#storeCall(() => lock.release());
    }
  }

  #throwIfCooling(): void {
    const cooling = this.#cooldown.error;
    if (cooling !== undefined) throw cooling;
  }

  /**
   * The store's token if it can be adopted, or an attempt at the fleet lock: with the store's
   * `getOrLock`, one round trip for both (unless `force`); otherwise a read (on the first turn),
   * the lock, and `recheck`: read again once the lock is held, since another process may have
   * published between the read and the lock.
   */
  async #adoptOrLock(
    force: boolean,
    first: boolean,
  ): Promise<{ adopted?: StoredToken; lock?: TokenLock | undefined; recheck?: boolean }> {
    const { store, fleetWaitMs } = this.#options;
    if (!force && store.getOrLock !== undefined) {
      const found = await this.#storeCall(async () => store.getOrLock!(await this.#storeKey, fleetWaitMs));
      if (found === undefined) return {};
      if (found.token === undefined) return { lock: found.lock };
      if (this.#isAdoptable(found.token)) return { adopted: this.#adopt(found.token) };
      // A token not to use (rejected, or due for renewal): take the lock as below.
    } else if (!force && first) {
      const adopted = await this.#adoptFromStore();
      if (adopted !== undefined) return { adopted };
      if (this.#storeFailing) return {};
    }
    const lock = await this.#storeCall(async () => store.acquireLock!(await this.#storeKey, fleetWaitMs));
    return { lock, recheck: !force };
  }

  async #adoptFromStore(): Promise<StoredToken | undefined> {
    const stored = await this.#storeCall(async () => this.#options.store.get(await this.#storeKey));
    return stored !== undefined && this.#isAdoptable(stored) ? this.#adopt(stored) : undefined;
  }

  #isAdoptable(token: StoredToken): boolean {
    return token.accessToken !== this.#rejected && Date.now() < renewAt(token, this.#options.refreshBufferMs);
  }

  #adopt(token: StoredToken): StoredToken {
    // Under a key bound to our secret: these credentials work, so their backoff starts over.
    this.#cooldown.succeeded();
    this.#current = token;
    this.#options.logger.debug?.('token taken from the store', { token: tokenFingerprint(token.accessToken) });
    return token;
  }

  /**
   * Fetches a token and starts storing it: through `lock.storeAndRelease` when the store can (one
   * round trip that also releases the lock, which the caller then leaves alone), else with `set`.
   * `storing` settles when the write is done or has failed (it never rejects).
   */
  async #fetch(lock?: TokenLock): Promise<Obtained & { storing: Promise<unknown> }> {
    // Every path to the endpoint passes here, the fleet path's fallbacks included: none may
    // bypass a cooldown.
    this.#throwIfCooling();
    const { logger } = this.#options;
    logger.debug?.('requesting a token', { authUrl: this.#options.authUrl, clientId: this.#options.clientId });
    let token: StoredToken;
    try {
      token = await this.#options.telemetry.traceTokenRequest(this.#requestToken);
    } catch (error) {
      this.#cooldown.failed(error as ServiceTitanAuthError);
      throw error;
    }
    this.#cooldown.succeeded();
    this.#current = token;
    this.#rejected = undefined;
    logger.info?.('token obtained', {
      token: tokenFingerprint(token.accessToken),
      expiresInSeconds: Math.round((token.expiresAt - Date.now()) / 1000),
    });
    const { store } = this.#options;
    const storing = this.#storeCall(async () => {
      const key = await this.#storeKey;
      await (lock?.storeAndRelease === undefined ? store.set(key, token) : lock.storeAndRelease(token));
    });
    return { token, storing };
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
      this.#options.telemetry.storeFallback('token_store');
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

/** A token obtained while holding a limiter slot, and its write to the store if one is under way. */
interface Obtained {
  token: StoredToken;
  storing?: Promise<unknown>;
}

/** A fleet turn's answer when another process holds the lock: wait for its token, holding no slot. */
const WAIT = Symbol('wait for the holder of the fleet lock');

/** The key in a store that only this handle uses (the default `MemoryTokenStore`). */
const PRIVATE_STORE_KEY = 'servicetitan-token:private';

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
