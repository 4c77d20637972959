import { retryDelay } from './backoff';
import { AxiosError, type AxiosInstance, type InternalAxiosRequestConfig } from 'axios';
import axiosRetry, { isNetworkError } from 'axios-retry';
import { invalidConfig } from './errors';
import { timeLeftMs, timeoutError } from './rate-limit/deadline';
import { msOption } from './timer-limits';
import { reportIdOfDataUrl } from './report-data-url';
import { retryAfterMs } from './retry-after';
import { describe } from './urls';

/** Retries of API requests by `createServiceTitanClient`; `false` turns them off. */
export interface ApiRetryOptions {
  /** Retries after the first attempt. @default 3 */
  retries?: number;
  /**
   * Statuses that are retried (network errors always are). A request whose `timeout` has run
   * out, or would run out during the wait before the retry, is not retried: the timeout spans
   * every attempt. @default [429, 502, 503, 504]
   */
  statuses?: readonly number[];
  /**
   * Also retry POST and PATCH. Off by default: a POST that reached ServiceTitan before the
   * connection failed would be applied twice. The report-data POST
   * (`/reporting/…/reports/{id}/data`) is a read and is always retried like a GET. @default false
   */
  retryNonIdempotent?: boolean;
  /** Base of the exponential backoff, in ms (+0–20% jitter). @default 300 */
  retryDelayMs?: number;
  /**
   * The longest `Retry-After` (seconds or HTTP date; negative, malformed or past values count as
   * absent) that is waited out; a 429 asking for longer goes to the caller at once. Also the
   * longest a 429 pauses the client's rate limit, whatever it asks for. A retry whose wait
   * (`Retry-After` or backoff) would end after the request's `timeout` is not made: the request
   * fails at once with axios's timeout error.
   * @default 60_000
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

/** The longest `Retry-After` waited out when `retry.maxRetryAfterMs` is not set. */
export const DEFAULT_MAX_RETRY_AFTER_MS = 60_000;

/**
 * Installs axios-retry on the instance: 429 (honouring `Retry-After` up to `maxRetryAfterMs`),
 * network errors and 502/503/504, within the request's `timeout`, for idempotent methods unless `retryNonIdempotent`.
 * Must be installed before the auth interceptors so it sees errors before they are redacted.
 * Returns `maxRetryAfterMs`, which also bounds how long a 429 pauses the client's rate limit.
 */
export function installApiRetries(instance: AxiosInstance, options: ApiRetryOptions | false | undefined): number {
  if (options === false) return DEFAULT_MAX_RETRY_AFTER_MS;
  const resolved = resolveRetry(options ?? {});
  const { requestInterceptorId } = axiosRetry(instance, {
    retries: resolved.retries,
    // The request's deadline (rate-limit/deadline.ts) spans every attempt; axios-retry must not
    // shorten `timeout` on its own.
    shouldResetTimeout: true,
    retryCondition: (error) => shouldRetry(error, resolved) && retryFitsDeadline(error, resolved),
    retryDelay: (retryCount, error) => plannedDelays.get(error) ?? delayBefore(retryCount, error, resolved),
  });
  // axios-retry's request interceptor copies its ~12 options into a fresh state object on every
  // request (and, being asynchronous, adds a step to axios's promise chain): ~12 µs of a request's
  // CPU (issue 18 item 6). Its response interceptor builds the same state from the same sources
  // (its defaults, ours, the config's `axios-retry` key, where it keeps `retryCount` across
  // attempts) when an error arrives; all the request side adds is `lastRequestTime`, read only
  // without `shouldResetTimeout`, which is always on here. So the state is built when an error
  // needs it, never for a request that succeeds. Per-request `retries` reach that state through
  // {@link carryRetryOverrides}, in the client's first request interceptor.
  instance.interceptors.request.eject(requestInterceptorId);
  return resolved.maxRetryAfterMs;
}

/**
 * Per-request `serviceTitanAuth.retry.retries` into axios-retry's own per-request state, which its
 * response interceptor reads when an error arrives. Called for every request of a client (by its
 * first request interceptor); a no-op without a per-request `retries`.
 */
export function carryRetryOverrides(config: InternalAxiosRequestConfig): void {
  const perRequest = config.serviceTitanAuth?.retry;
  if (perRequest && perRequest.retries !== undefined) {
    config['axios-retry'] = { ...config['axios-retry'], retries: perRequest.retries };
  }
}

/** The delay chosen for the retry that an error leads to (retryCondition runs just before retryDelay). */
const plannedDelays = new WeakMap<AxiosError, number>();

function delayBefore(retryNumber: number, error: AxiosError, options: ResolvedRetry): number {
  return retryDelay(retryNumber, options.retryDelayMs, error, options.maxRetryAfterMs);
}

/**
 * The wait before a retry (backoff or `Retry-After`) must end before the request's deadline
 * (DESIGN guarantee 13): never wait past it. axios-retry calls retryDelay right after this, so
 * the delay is chosen here, once, jitter included. A retry the deadline leaves no time for ends
 * the request with axios's timeout error at once, rather than after a wait that cannot succeed:
 * thrown from here, it is what axios-retry's response interceptor rejects with (a step of
 * axios's chain of its own for this would cost every request a promise).
 */
function retryFitsDeadline(error: AxiosError, options: ResolvedRetry): boolean {
  const config = error.config!;
  const retryNumber = (config['axios-retry']?.retryCount ?? 0) + 1;
  const delay = delayBefore(retryNumber, error, options);
  if (delay >= timeLeftMs(config)) throw timeoutError(config);
  plannedDelays.set(error, delay);
  return true;
}

function shouldRetry(error: AxiosError, options: ResolvedRetry): boolean {
  const config = error.config;
  if (config === undefined || error.code === AxiosError.ERR_CANCELED) return false;
  // The caller's `timeout` counts from when the request was made, retries included.
  if (timeLeftMs(config) <= 0) return false;
  const perRequest = config.serviceTitanAuth?.retry;
  if (perRequest === false) return false;
  const method = (config.method ?? 'get').toLowerCase();
  const nonIdempotentAllowed = (perRequest && perRequest.retryNonIdempotent) ?? options.retryNonIdempotent;
  if (!IDEMPOTENT_METHODS.has(method) && !nonIdempotentAllowed && !isReportDataRead(method, config.url)) return false;

  const status = error.response?.status;
  if (status === undefined) {
    return isNetworkError(error) || error.code === AxiosError.ECONNABORTED || error.code === AxiosError.ETIMEDOUT;
  }
  if (!options.statuses.has(status)) return false;
  return status !== 429 || (retryAfterMs(error) ?? 0) <= options.maxRetryAfterMs;
}

/**
 * Running a report changes nothing on the server: its POST only carries the parameters. Retried
 * like a GET (429 after `Retry-After`, network errors, 502/503/504), so a report outlives its
 * reporting limit (issue 17, item 6).
 */
function isReportDataRead(method: string, url: string | undefined): boolean {
  return method === 'post' && reportIdOfDataUrl(url) !== undefined;
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
    retryDelayMs: msOption(options.retryDelayMs, 'retry.retryDelayMs', 300),
    maxRetryAfterMs: msOption(options.maxRetryAfterMs, 'retry.maxRetryAfterMs', DEFAULT_MAX_RETRY_AFTER_MS),
  };
}

function count(value: unknown, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
    throw invalidConfig(`${name} must be an integer >= 0, got ${describe(value)}`);
  }
  return value;
}
