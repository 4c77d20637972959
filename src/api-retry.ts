import { AxiosError, type AxiosInstance } from 'axios';
import axiosRetry, { isNetworkError } from 'axios-retry';
import { invalidConfig } from './errors';
import { checkTimerDuration, MAX_TIMER_MS } from './timer-limits';
import { retryAfterMs } from './token-request';
import { describe } from './urls';

/** Retries of API requests by `createServiceTitanClient`; `false` turns them off. */
export interface ApiRetryOptions {
  /** Retries after the first attempt. @default 3 */
  retries?: number;
  /** Statuses that are retried (network errors and timeouts always are). @default [429, 502, 503, 504] */
  statuses?: readonly number[];
  /**
   * Also retry POST and PATCH. Off by default: a POST that reached ServiceTitan before the
   * connection failed would be applied twice. @default false
   */
  retryNonIdempotent?: boolean;
  /** Base of the exponential backoff, in ms (+0–20% jitter). @default 300 */
  retryDelayMs?: number;
  /**
   * The longest `Retry-After` (seconds or HTTP date) that is waited out; a 429 asking for longer
   * goes to the caller at once. @default 60_000
   */
  maxRetryAfterMs?: number;
}

/** Per-request override, as `serviceTitanAuth.retry`: `false`, or some of the client's options. */
export type ApiRetryRequestOptions = false | Pick<ApiRetryOptions, 'retries' | 'retryNonIdempotent'>;

const IDEMPOTENT_METHODS = new Set(['get', 'head', 'options', 'put', 'delete']);

interface ResolvedRetry {
  retries: number;
  statuses: ReadonlySet<number>;
  retryNonIdempotent: boolean;
  retryDelayMs: number;
  maxRetryAfterMs: number;
}

/**
 * Installs axios-retry on the instance: 429 (honouring `Retry-After` up to `maxRetryAfterMs`),
 * network errors, timeouts and 502/503/504, for idempotent methods unless `retryNonIdempotent`.
 * Must be installed before the auth interceptors so it sees errors before they are redacted.
 */
export function installApiRetries(instance: AxiosInstance, options: ApiRetryOptions | false | undefined): void {
  if (options === false) return;
  const resolved = resolveRetry(options ?? {});
  axiosRetry(instance, {
    retries: resolved.retries,
    // The client's `timeout` applies to each attempt, not to all of them together.
    shouldResetTimeout: true,
    retryCondition: (error) => shouldRetry(error, resolved),
    retryDelay: (retryCount, error) => {
      const base = resolved.retryDelayMs * 2 ** (retryCount - 1);
      // Capped: a longer delay would make Node's timer fire after 1 ms.
      return Math.min(Math.max(base + base * 0.2 * Math.random(), retryAfterMs(error) ?? 0), MAX_TIMER_MS);
    },
  });
  // Per-request `retries` must reach axios-retry's own per-request state before its interceptor
  // reads it; axios runs request interceptors in reverse order, so this one (added later) runs first.
  instance.interceptors.request.use(
    (config) => {
      const perRequest = config.serviceTitanAuth?.retry;
      if (perRequest && perRequest.retries !== undefined) {
        config['axios-retry'] = { ...config['axios-retry'], retries: perRequest.retries };
      }
      return config;
    },
    undefined,
    { synchronous: true },
  );
}

function shouldRetry(error: AxiosError, options: ResolvedRetry): boolean {
  const config = error.config;
  if (config === undefined || error.code === AxiosError.ERR_CANCELED) return false;
  const perRequest = config.serviceTitanAuth?.retry;
  if (perRequest === false) return false;
  const method = (config.method ?? 'get').toLowerCase();
  const nonIdempotentAllowed = (perRequest && perRequest.retryNonIdempotent) ?? options.retryNonIdempotent;
  if (!IDEMPOTENT_METHODS.has(method) && !nonIdempotentAllowed) return false;

  const status = error.response?.status;
  if (status === undefined) {
    return isNetworkError(error) || error.code === AxiosError.ECONNABORTED || error.code === AxiosError.ETIMEDOUT;
  }
  if (!options.statuses.has(status)) return false;
  return status !== 429 || (retryAfterMs(error) ?? 0) <= options.maxRetryAfterMs;
}

function resolveRetry(options: ApiRetryOptions): ResolvedRetry {
  if (options === null || typeof options !== 'object')
    throw invalidConfig(`retry must be an object or false, got ${describe(options)}`);
  const statuses = options.statuses ?? [429, 502, 503, 504];
  if (!Array.isArray(statuses) || statuses.some((s) => !Number.isInteger(s) || s < 400 || s > 599)) {
    throw invalidConfig('retry.statuses must be an array of HTTP error statuses (400-599)');
  }
  return {
    retries: count(options.retries, 'retry.retries', 3),
    statuses: new Set(statuses),
    retryNonIdempotent: options.retryNonIdempotent ?? false,
    retryDelayMs: checkTimerDuration(
      count(options.retryDelayMs, 'retry.retryDelayMs', 300, false),
      'retry.retryDelayMs',
    ),
    maxRetryAfterMs: checkTimerDuration(
      count(options.maxRetryAfterMs, 'retry.maxRetryAfterMs', 60_000, false),
      'retry.maxRetryAfterMs',
    ),
  };
}

function count(value: unknown, name: string, fallback: number, integer = true): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || (integer && !Number.isInteger(value))) {
    throw invalidConfig(`${name} must be ${integer ? 'an integer' : 'a finite number'} >= 0, got ${describe(value)}`);
  }
  return value;
}
