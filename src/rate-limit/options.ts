import { invalidConfig } from '../errors';
import { MAX_TIMER_MS, msOption } from '../timer-limits';
import { describe } from '../urls';
import type { RateLimitStore } from './store';

/** Client-side rate limiting of API requests; `false` turns it off. */
export interface RateLimitOptions {
  /**
   * Most requests sent in any rolling window of one second plus `windowMarginMs` (ServiceTitan:
   * 60 per application per tenant; one client serves one tenant). Requests are counted when
   * they are sent, not when their answers arrive, so the budget is used at any latency.
   * Requests over the limit wait; they never fail. @default 60
   * @example
   * // A second integration shares the tenant's budget: leave it half.
   * createServiceTitanClient({ ...options, rateLimit: { requestsPerSecond: 30 } });
   */
  requestsPerSecond?: number;
  /**
   * Added to the one-second window, for network jitter: as long as the one-way delay of two
   * requests differs by less than this, the server never sees more than `requestsPerSecond`
   * arrive in any rolling second. Each request counts from when it has been written (on a new
   * connection, after its handshake). Costs `margin / (1000 + margin)` of the budget (40 ms: 3.8 %).
   * The reporting limit's minute gets the same margin. At most 2^31 − 1 ms less one minute, so
   * that every window fits a Node timer.
   * @default 40
   * @example
   * // A network whose delays vary by up to 100 ms (a VPN, a distant region): 9 % of the budget.
   * createServiceTitanClient({ ...options, rateLimit: { windowMarginMs: 100 } });
   */
  windowMarginMs?: number;
  /**
   * Most requests in flight at once. @default Infinity
   * @example
   * createServiceTitanClient({ ...options, rateLimit: { maxConcurrent: 8 } });
   */
  maxConcurrent?: number;
  /**
   * Shares the budget of one (app key, tenant) with every process that uses the same store,
   * e.g. `new RedisRateLimitStore(redis)` from `axios-servicetitan-auth/redis`. The client's own
   * limiter still applies; when the store fails, it alone does (one warning), until the store
   * answers again. @default none: the budget is this client's alone
   * @example
   * import { RedisRateLimitStore } from 'axios-servicetitan-auth/redis';
   * createServiceTitanClient({ ...options, rateLimit: { store: new RedisRateLimitStore(redis) } });
   */
  store?: RateLimitStore;
  /**
   * How long the whole client waits after a 429 that has no `Retry-After` (a 429 with one
   * waits that long, at most `retry.maxRetryAfterMs`). @default 1000 (one rolling second)
   * @example
   * createServiceTitanClient({ ...options, rateLimit: { pauseOn429Ms: 2000 } });
   */
  pauseOn429Ms?: number;
}

/** The reporting limit: report-data calls per report and tenant; `false` turns it off. */
export interface ReportLimitOptions {
  /**
   * Most data calls (runs) of the same report sent in any rolling minute (plus
   * `rateLimit.windowMarginMs`). Sources disagree on ServiceTitan's figure: 5 runs of the same
   * report per minute per tenant in one, 1 in another that cites ServiceTitan's help centre; the
   * default is the stricter. Each page of report data is a run, so a report of n pages takes
   * about n − 1 minutes at 1; raise it if your tenant is known to allow more.
   * @default 1
   * @example
   * // The tenant is known to allow 5 runs of a report per minute.
   * createServiceTitanClient({ ...options, reportLimit: { perMinute: 5 } });
   */
  perMinute?: number;
}

/** Runs of the same report per minute when `reportLimit.perMinute` is not set: the stricter source. */
export const DEFAULT_REPORTS_PER_MINUTE = 1;
/** `rateLimit.windowMarginMs` when not set. */
export const DEFAULT_WINDOW_MARGIN_MS = 40;
/** The reporting limit's window before its margin. */
export const REPORT_WINDOW_MS = 60_000;

export interface ResolvedRateLimit {
  requestsPerSecond: number;
  windowMarginMs: number;
  windowMs: number;
  maxConcurrent: number | undefined;
  store: RateLimitStore | undefined;
  pauseOn429Ms: number;
}

export function resolveRateLimit(options: RateLimitOptions | false | undefined): ResolvedRateLimit | undefined {
  if (options === false) return undefined;
  const given = options ?? {};
  if (given === null || typeof given !== 'object') {
    throw invalidConfig(`rateLimit must be an object or false, got ${describe(given)}`);
  }
  const store = given.store;
  if (store !== undefined && (store === null || typeof (store as Partial<RateLimitStore>).take !== 'function')) {
    throw invalidConfig('rateLimit.store must be a RateLimitStore (an object with a take() method)');
  }
  const windowMarginMs = windowMarginOption(given.windowMarginMs);
  return {
    requestsPerSecond: integerOption(given.requestsPerSecond, 'rateLimit.requestsPerSecond', 60),
    windowMarginMs,
    windowMs: 1000 + windowMarginMs,
    maxConcurrent:
      given.maxConcurrent === undefined || given.maxConcurrent === Number.POSITIVE_INFINITY
        ? undefined
        : integerOption(given.maxConcurrent, 'rateLimit.maxConcurrent', 1),
    store,
    pauseOn429Ms: msOption(given.pauseOn429Ms, 'rateLimit.pauseOn429Ms', 1000),
  };
}

export function resolveReportLimit(options: ReportLimitOptions | false | undefined): number | undefined {
  if (options === false) return undefined;
  const given = options ?? {};
  if (given === null || typeof given !== 'object') {
    throw invalidConfig(`reportLimit must be an object or false, got ${describe(given)}`);
  }
  return integerOption(given.perMinute, 'reportLimit.perMinute', DEFAULT_REPORTS_PER_MINUTE);
}

/**
 * The margin widens the one-second window and the reporting limit's minute, and each window is
 * a timer: past 2^31 − 1 ms Node clamps a timer to 1 ms, and the limiter would spin, warning
 * each time (issue 17, item 8).
 */
function windowMarginOption(value: unknown): number {
  const name = 'rateLimit.windowMarginMs';
  const margin = msOption(value, name, DEFAULT_WINDOW_MARGIN_MS);
  if (margin > MAX_TIMER_MS - REPORT_WINDOW_MS) {
    throw invalidConfig(
      `${name} must be at most ${MAX_TIMER_MS - REPORT_WINDOW_MS} ms (the reporting limit's minute plus the margin must fit the longest delay Node's timers support, 2^31 - 1 ms), got ${margin}`,
    );
  }
  return margin;
}

export function integerOption(value: unknown, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    throw invalidConfig(`${name} must be an integer >= 1, got ${describe(value)}`);
  }
  return value;
}
