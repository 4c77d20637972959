import { cappedDoubling } from '../backoff';
import { tokenFingerprint, type ServiceTitanLogger } from '../logging/logger';

/** The first hold-back after a renewal for a 401; it doubles per renewal the API did not accept. */
export const FIRST_HOLD_BACK_MS = 1_000;

/**
 * Decides whether a 401 for a token is worth a renewal (DESIGN guarantee 3).
 *
 * A token the API has accepted is always renewed on a later 401, however soon: it was revoked,
 * and a new token cures that. Only a token obtained *for* a 401, and not accepted since, may be
 * held back: if the API rejects it too, the cause is probably not the token (a wrong app key, a
 * permission), and renewing for every request would hammer ServiceTitan's throttled token
 * endpoint. The hold-back is bounded and grows (1 s, 2 s, 4 s … up to `maxHoldBackMs`) while
 * renewals keep failing to be accepted, and any accepted response resets it, so a real
 * revocation can never be shut out for longer than one hold-back.
 *
 * @example
 * const policy = new RenewalPolicy(options.renewalCooldownMs, logger);
 * if (!policy.holdsBack(failedToken)) policy.renewedFor401({ accessToken, renewAt }); // after renewing
 * policy.accepted(tokenOfA200); // from the response interceptor
 */
export class RenewalPolicy {
  readonly #maxHoldBackMs: number;
  readonly #logger: ServiceTitanLogger;
  /** The token last obtained for a 401 and not yet accepted: renewal for it waits until `until`. */
  #probation: { accessToken: string; until: number; renewAt: number } | undefined;
  /** The token whose acceptance ended the last probation: a late join of that renewal is no new streak. */
  #lastAccepted: string | undefined;
  /** Renewals for a 401 in a row without an accepted response; sets the next hold-back. */
  #streak = 0;
  #warned = false;

  constructor(maxHoldBackMs: number, logger: ServiceTitanLogger) {
    this.#maxHoldBackMs = maxHoldBackMs;
    this.#logger = logger;
  }

  /** True while a renewed token waits for its first accepted response: only then is acceptance recorded. */
  get awaitingAcceptance(): boolean {
    return this.#probation !== undefined;
  }

  /** The API accepted a request that carried `accessToken`. O(1): called on the response path. */
  accepted(accessToken: string | undefined): void {
    if (this.#probation === undefined || this.#probation.accessToken !== accessToken) return;
    this.#lastAccepted = accessToken;
    this.#probation = undefined;
    this.#streak = 0;
    this.#warned = false;
  }

  /**
   * True when a 401 for `failedToken` should go to the caller without a renewal: it was obtained
   * for a 401, has not been accepted since, its hold-back has not passed, and it is not yet in its
   * renewal window (near expiry a 401 may just mean "expired": the server's clock, whole-second `exp`).
   */
  holdsBack(failedToken: string | undefined): boolean {
    const probation = this.#probation;
    const now = Date.now();
    if (probation === undefined || probation.accessToken !== failedToken) return false;
    if (now >= probation.until || now >= probation.renewAt) return false;
    if (!this.#warned) {
      this.#warned = true;
      this.#logger.warn?.(
        'a token obtained for a 401 was rejected again before the API accepted it: not renewing it yet (the API may be rejecting the app key or a permission)',
        { token: tokenFingerprint(probation.accessToken), retryAfterMs: probation.until - now },
      );
    }
    return true;
  }

  /** `token` was obtained because the API answered 401: it is on probation until accepted. */
  renewedFor401(token: { accessToken: string; renewAt: number }): void {
    if (token.accessToken === this.#probation?.accessToken || token.accessToken === this.#lastAccepted) return;
    const holdBackMs = cappedDoubling(FIRST_HOLD_BACK_MS, this.#streak, this.#maxHoldBackMs);
    this.#streak += 1;
    this.#probation = { accessToken: token.accessToken, until: Date.now() + holdBackMs, renewAt: token.renewAt };
  }
}
