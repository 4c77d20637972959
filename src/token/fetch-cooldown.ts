import { cappedDoubling } from '../backoff';
import type { ServiceTitanAuthError } from '../errors';
import type { ServiceTitanLogger } from '../logging/logger';

/** What {@link FetchCooldown} needs from the resolved options. */
export interface FetchCooldownOptions {
  failureCooldownMs: number;
  rateLimitCooldownMs: number;
  /** The longest a `Retry-After` holds fetches back (guarantee 16). */
  maxRetryAfterMs: number;
  maxInvalidClientCooldownMs: number;
  logger: ServiceTitanLogger;
}

/**
 * Failed token requests count toward ServiceTitan's throttle: after one, every fetch fails fast
 * with the same error until the cooldown is over (`Retry-After` for a 429, at most `maxRetryAfterMs`).
 *
 * Rejected credentials (`invalid_client`) do not heal by themselves, and a fleet retrying them
 * every second may get the client locked out: their cooldown doubles with each rejection in a
 * row, from `failureCooldownMs` up to `maxInvalidClientCooldownMs`, and a successful fetch resets it.
 *
 * @example
 * const cooldown = new FetchCooldown(options);
 * if (cooldown.error) throw cooldown.error;
 * try { token = await requestToken(); cooldown.succeeded(); } catch (e) { cooldown.failed(e); throw e; }
 */
export class FetchCooldown {
  readonly #options: FetchCooldownOptions;
  #active: { until: number; error: ServiceTitanAuthError } | undefined;
  #rejectedInARow = 0;

  constructor(options: FetchCooldownOptions) {
    this.#options = options;
  }

  /** The error every fetch fails with right now, or `undefined` when fetching is allowed. */
  get error(): ServiceTitanAuthError | undefined {
    if (this.#active === undefined) return undefined;
    if (Date.now() < this.#active.until) return this.#active.error;
    this.#active = undefined;
    return undefined;
  }

  /** A token fetch failed with `error`: start the cooldown it calls for. */
  failed(error: ServiceTitanAuthError): void {
    const { logger, rateLimitCooldownMs, maxRetryAfterMs, failureCooldownMs, maxInvalidClientCooldownMs } =
      this.#options;
    let wait: number;
    if (error.code === 'rate_limited') {
      // token-request.ts caps it already; capped here too, as this is where the wait is honoured.
      wait = error.retryAfterMs === undefined ? rateLimitCooldownMs : Math.min(error.retryAfterMs, maxRetryAfterMs);
    } else if (error.code === 'invalid_client') {
      const cap = Math.max(maxInvalidClientCooldownMs, failureCooldownMs);
      wait = cappedDoubling(failureCooldownMs, this.#rejectedInARow, cap);
      this.#rejectedInARow += 1;
    } else {
      wait = failureCooldownMs;
    }
    logger.error?.('token request failed', { code: error.code, status: error.status, cooldownMs: wait });
    if (wait > 0) this.#active = { until: Date.now() + wait, error };
  }

  /** A token was obtained: the credentials work, so their backoff starts from the beginning again. */
  succeeded(): void {
    this.#rejectedInARow = 0;
  }
}
