import type { AxiosError } from 'axios';
import { cappedRetryAfterMs } from './retry-after';
import { MAX_TIMER_MS } from './timer-limits';

/**
 * The wait before retry number `retryCount` (from 1): exponential backoff from `baseMs` with
 * 0–20 % jitter, so a fleet restarted together does not retry in step, or the answer's
 * `Retry-After` (at most `maxRetryAfterMs`) when that is longer; capped at the longest delay a
 * Node timer honours.
 */
export function retryDelay(
  retryCount: number,
  baseMs: number,
  error: AxiosError | undefined,
  maxRetryAfterMs: number,
): number {
  const backoff = baseMs * 2 ** (retryCount - 1);
  const jittered = backoff + backoff * 0.2 * Math.random();
  return Math.min(Math.max(jittered, cappedRetryAfterMs(error, maxRetryAfterMs) ?? 0), MAX_TIMER_MS);
}

/**
 * `baseMs` doubled `doublings` times, never above `maxMs` (the exponent is capped, so a long
 * streak cannot overflow to Infinity): the growing hold-backs that a success resets.
 */
export function cappedDoubling(baseMs: number, doublings: number, maxMs: number): number {
  return Math.min(baseMs * 2 ** Math.min(doublings, 30), maxMs);
}
