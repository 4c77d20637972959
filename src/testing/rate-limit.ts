import type { RetryAfterStyle } from './types';

/** The answer of a {@link SlidingWindowLimiter} to one request. */
export type LimitDecision = { ok: true } | { ok: false; retryAfterMs: number };

/**
 * At most `limit` admitted requests per key in any window of `windowMs` milliseconds (a sliding
 * log of admission times). Refused requests do not count: a client that keeps knocking is let in
 * as soon as the oldest admitted request leaves the window.
 */
export class SlidingWindowLimiter {
  readonly #limit: number;
  readonly #windowMs: number;
  readonly #clock: () => number;
  readonly #log = new Map<string, number[]>();

  constructor(limit: number, windowMs: number, clock: () => number) {
    this.#limit = limit;
    this.#windowMs = windowMs;
    this.#clock = clock;
  }

  get limit(): number {
    return this.#limit;
  }

  /** Admits (and records) a request for `key`, or says how long until a slot frees. */
  take(key: string): LimitDecision {
    const now = this.#clock();
    const times = (this.#log.get(key) ?? []).filter((t) => t > now - this.#windowMs && t <= now);
    if (times.length >= this.#limit) {
      this.#log.set(key, times);
      const oldest = times[times.length - this.#limit] ?? now;
      return { ok: false, retryAfterMs: Math.max(0, oldest + this.#windowMs - now) };
    }
    times.push(now);
    this.#log.set(key, times);
    return { ok: true };
  }
}

/**
 * The `Retry-After` value for a wait of `waitMs` in the given style: whole seconds rounded up
 * (at least 1), an HTTP date rounded up to the next second, or undefined for none.
 */
export function retryAfterValue(waitMs: number, style: RetryAfterStyle): string | undefined {
  if (style === 'absent') return undefined;
  if (style === 'http-date') return new Date(Math.ceil((Date.now() + waitMs) / 1000) * 1000).toUTCString();
  return String(Math.max(1, Math.ceil(waitMs / 1000)));
}

/**
 * The most times in any half-open window `[t, t + windowMs)`: how a server that counts arrivals
 * over a rolling window sees a log of arrival times.
 */
export function maxInAnyWindow(times: readonly number[], windowMs: number): number {
  const sorted = [...times].sort((a, b) => a - b);
  let max = 0;
  for (let start = 0, end = 0; end < sorted.length; end += 1) {
    while (sorted[end]! - sorted[start]! >= windowMs) start += 1;
    max = Math.max(max, end - start + 1);
  }
  return max;
}
