import { invalidConfig } from './errors';
import { describe } from './urls';

/**
 * The longest delay Node's timers honour: 2^31 − 1 ms (about 24.8 days). A longer one is
 * clamped to 1 ms with only a `TimeoutOverflowWarning`, so a "very long" timeout would fire at
 * once: every token fetch would "time out" before it started.
 */
export const MAX_TIMER_MS = 2_147_483_647;

/**
 * Returns `value` (an already validated, finite, non-negative duration) if a timer can wait that
 * long, and throws `invalid_config` naming the option and the limit otherwise. `unit: 's'` is
 * for options given in seconds (the limit is then 2147483.647 s).
 *
 * @example
 * // after checking that the value is a finite number >= 0:
 * const windowMs = checkTimerDuration(options.windowMs ?? 1000, 'rateLimit.windowMs');
 * const bufferSeconds = checkTimerDuration(options.refreshBufferSeconds ?? 60, 'refreshBufferSeconds', 's'); // deprecated, in s
 */
export function checkTimerDuration(value: number, name: string, unit: 'ms' | 's' = 'ms'): number {
  const ms = unit === 's' ? value * 1000 : value;
  if (ms > MAX_TIMER_MS) {
    const limit = unit === 's' ? `${MAX_TIMER_MS / 1000} s` : `${MAX_TIMER_MS} ms`;
    throw invalidConfig(
      `${name} must be at most ${limit} (2^31 - 1 ms, the longest delay Node's timers support), got ${value}`,
    );
  }
  return value;
}

/**
 * A duration option in ms: `fallback` when undefined, otherwise a finite number >= `min` that a
 * timer can wait (see {@link checkTimerDuration}); anything else is `invalid_config` naming it.
 */
export function msOption(value: unknown, name: string, fallback: number, min = 0): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min) {
    throw invalidConfig(`${name} must be a number of milliseconds >= ${min}, got ${describe(value)}`);
  }
  return checkTimerDuration(value, name);
}
