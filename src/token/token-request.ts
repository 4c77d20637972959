import { retryDelay } from '../backoff';
import axios, { AxiosError, isAxiosError, type AxiosInstance, type AxiosRequestConfig } from 'axios';
import axiosRetry, { isNetworkError } from 'axios-retry';
import { ServiceTitanAuthError } from '../errors';
import { joinTick, leaveTick, type DeadlineTick } from '../rate-limit/deadline-ticks';
import type { ResolvedOptions } from '../options';
import type { StoredToken } from '../stores/types';
import { cappedRetryAfterMs, retryAfterMs } from '../retry-after';
import { createTokenResponseParser } from './token-response';

/** Fetches one new token from the token endpoint (with retries); never caches. */
export type TokenRequester = () => Promise<StoredToken>;

/**
 * The largest token answer read (64 KiB). A real one is about 2 KB; without a cap a broken or
 * hostile endpoint could make the process buffer hundreds of megabytes.
 */
export const MAX_TOKEN_RESPONSE_BYTES = 64 * 1024;

// RFC 6749 §5.2 errors that mean "these credentials are wrong", as opposed to a malformed request.
const CREDENTIAL_ERRORS = new Set(['invalid_client', 'unauthorized_client']);

/**
 * Builds the token request on an axios instance of the library's own, so the user's
 * interceptors, base URL and defaults never see the client secret. Retries network errors,
 * timeouts, 5xx and 429 (waiting out `Retry-After` up to `maxRetryAfterMs`), never 400/401. A
 * `rate_limited` error's `retryAfterMs` (the cooldown it starts) is at most `maxRetryAfterMs` too.
 */
export function createTokenRequester(options: ResolvedOptions): TokenRequester {
  const form = new URLSearchParams({
    grant_type: 'client_credentials',
    client_id: options.clientId,
    client_secret: options.clientSecret,
  }).toString();
  // This client's settings ride on each request's config: the instance is the process's.
  const config: TokenRequestConfig = {
    [ATTEMPT_DEADLINE]: options.tokenTimeoutMs,
    'axios-retry': {
      retries: options.tokenRetries,
      retryCondition: (error) => isRetryableTokenError(error, options),
      retryDelay: (retryCount, error) =>
        retryDelay(retryCount, options.tokenRetryDelayMs, error, options.maxRetryAfterMs),
      // axios-retry skips its backoff when the config's signal has aborted: drop the spent
      // deadline, the next attempt gets a fresh one.
      onRetry: (_retryCount, error, retried) => {
        delete retried.signal;
        options.telemetry.tokenRequestRetried(error);
      },
    },
  };

  const parseTokenResponse = createTokenResponseParser(options.authUrl, options.logger);
  // Now, with the client, not in the first token request's time.
  const http = tokenHttpClient();

  return async () => {
    const requestedAt = Date.now();
    try {
      const response = await http.post(options.authUrl, form, config);
      return parseTokenResponse(response.data, requestedAt);
    } catch (error) {
      throw toTokenError(error, options);
    }
  };
}

/**
 * Where a token request's config carries its attempt deadline (ms), for the interceptor below. A
 * string, not a symbol: axios before 1.18 drops symbol keys when it merges a request's config.
 */
const ATTEMPT_DEADLINE = 'serviceTitanAttemptDeadlineMs';

type TokenRequestConfig = AxiosRequestConfig & { [ATTEMPT_DEADLINE]?: number };

/**
 * The axios instance every token request of the process goes through: nothing on it differs
 * between clients (each request carries its client's deadline and retry settings), and creating
 * one per client (an instance, its interceptors, axios-retry's) was a fifth of what creating a
 * client cost, paid 2,000 times by a cold start over 2,000 tenants (issue 18). Created with the
 * first client, never exported: no code outside this module can add an interceptor to it.
 */
let sharedTokenHttpClient: AxiosInstance | undefined;

function tokenHttpClient(): AxiosInstance {
  if (sharedTokenHttpClient !== undefined) return sharedTokenHttpClient;
  const http = axios.create({
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' },
    // The token endpoint has no reason to redirect; following one could carry the secret elsewhere.
    maxRedirects: 0,
    responseType: 'json',
    // Counted on the decoded body as it streams in: the answer is dropped at the first byte over.
    maxContentLength: MAX_TOKEN_RESPONSE_BYTES,
    transitional: { silentJSONParsing: true, forcedJSONParsing: true, clarifyTimeoutError: true },
  });
  // axios's `timeout` is an idle timer: an endpoint that trickles a byte now and then never
  // trips it. A deadline per attempt bounds it from connect to the last byte (guarantee 13).
  // It is one of the shared deadline ticks (deadline-ticks.ts), not AbortSignal.timeout: a tick
  // aborts once the I/O that arrived meanwhile is read, so a token answer that came in time
  // while the process was held (starved of CPU, a long GC pause) is not taken for a timeout and
  // asked for again; AbortSignal.timeout's timer ran before the socket was read. The ticks' timer
  // is unref'd, so it never keeps the process alive (G11). The interceptor runs again for every
  // retry that axios-retry sends through this instance; each attempt leaves its tick when it ends.
  http.interceptors.request.use(
    (config) => {
      const deadlineMs = (config as TokenRequestConfig)[ATTEMPT_DEADLINE];
      if (deadlineMs !== undefined) {
        const now = performance.now();
        const tick = joinTick(now + deadlineMs, now);
        attemptTicks.set(config, tick);
        config.signal = tick.controller.signal;
      }
      return config;
    },
    undefined,
    { synchronous: true },
  );
  // Before axios-retry's (response interceptors run in the order they were added): an attempt
  // is over before the next one starts.
  http.interceptors.response.use(
    (response) => {
      leaveAttemptTick(response.config);
      return response;
    },
    (error: unknown) => {
      if (isAxiosError(error) && error.config !== undefined) leaveAttemptTick(error.config);
      throw error;
    },
  );
  // Every request brings its own settings (`axios-retry` in its config); none by default.
  axiosRetry(http, { retries: 0 });
  return (sharedTokenHttpClient = http);
}

/** The deadline tick each attempt in flight joined, by its config (the same object until it ends). */
const attemptTicks = new WeakMap<object, DeadlineTick>();

function leaveAttemptTick(config: object): void {
  const tick = attemptTicks.get(config);
  if (tick === undefined) return;
  attemptTicks.delete(config);
  leaveTick(tick);
}

/** True when the attempt's own deadline (not the endpoint) ended it. */
function deadlineExpired(error: AxiosError): boolean {
  const signal = error.config?.signal as AbortSignal | undefined;
  return error.code === AxiosError.ERR_CANCELED && signal?.aborted === true;
}

/** True when the answer was larger than {@link MAX_TOKEN_RESPONSE_BYTES} (axios's `maxContentLength`). */
function oversizedAnswer(error: AxiosError): boolean {
  return (
    error.code === AxiosError.ERR_BAD_RESPONSE &&
    error.response === undefined &&
    error.message.startsWith('maxContentLength')
  );
}

function isRetryableTokenError(error: AxiosError, options: ResolvedOptions): boolean {
  if (deadlineExpired(error)) return true;
  // The same endpoint would send the same oversized answer again.
  if (oversizedAnswer(error)) return false;
  const status = error.response?.status;
  if (status === undefined)
    return isNetworkError(error) || error.code === AxiosError.ETIMEDOUT || error.code === 'ECONNABORTED';
  if (status === 429) return (retryAfterMs(error) ?? 0) <= options.maxRetryAfterMs;
  // A 2xx whose body broke off mid-transfer ("stream has been aborted") is a network failure.
  return status >= 500 || status < 400;
}

/** Maps a failed token request to a typed error that holds no secret (not even in `cause`). */
function toTokenError(error: unknown, options: ResolvedOptions): ServiceTitanAuthError {
  if (error instanceof ServiceTitanAuthError) return error;
  if (!(error instanceof AxiosError)) {
    return new ServiceTitanAuthError('token_request_failed', `Token request to ${options.authUrl} failed`, {
      cause: summarize(error),
    });
  }
  const response = error.response;
  const cause = summarize(error);
  if (oversizedAnswer(error)) {
    return new ServiceTitanAuthError(
      'invalid_token_response',
      `The token endpoint ${options.authUrl} answered more than ${MAX_TOKEN_RESPONSE_BYTES} bytes (the cap of a token answer; a real one is about 2 KB)`,
      { cause },
    );
  }
  if (response === undefined) {
    const what =
      error.code === AxiosError.ETIMEDOUT || deadlineExpired(error)
        ? `timed out after ${options.tokenTimeoutMs} ms`
        : `failed (${error.code ?? error.message})`;
    return new ServiceTitanAuthError('token_request_failed', `Token request to ${options.authUrl} ${what}`, { cause });
  }
  const status = response.status;
  if (status < 400) {
    return new ServiceTitanAuthError(
      'token_request_failed',
      `Token request to ${options.authUrl} failed: the connection broke while reading the answer (${error.code ?? error.message})`,
      { status, cause },
    );
  }
  const oauthError = readOAuthError(response.data);
  const details = { status, cause, ...(oauthError === undefined ? {} : { oauthError }) };
  if (status === 429) {
    // The cooldown this starts (fetch-cooldown.ts) is the Retry-After, capped (guarantee 16): a
    // server asking for years would otherwise lock the client out long after it is healthy.
    const wait = cappedRetryAfterMs(error, options.maxRetryAfterMs) ?? options.rateLimitCooldownMs;
    return new ServiceTitanAuthError(
      'rate_limited',
      `The token endpoint ${options.authUrl} is rate limiting this client (429); retry after ${Math.ceil(wait / 1000)} s`,
      { ...details, retryAfterMs: wait },
    );
  }
  // The error body of ServiceTitan's token endpoint is not documented: an OAuth error other than
  // a credential error is a bad request; any other 400/401 is taken as rejected credentials.
  const credentialsRejected =
    (status === 400 || status === 401) && (oauthError === undefined || CREDENTIAL_ERRORS.has(oauthError));
  if (credentialsRejected) {
    return new ServiceTitanAuthError(
      'invalid_client',
      `The token endpoint ${options.authUrl} rejected client id "${options.clientId}" (${status}${oauthError ? ` ${oauthError}` : ''}): check the client id and secret, and that they belong to this environment`,
      details,
    );
  }
  return new ServiceTitanAuthError(
    'token_request_failed',
    `Token request to ${options.authUrl} failed with ${status}${oauthError ? ` ${oauthError}` : ''}`,
    details,
  );
}

function readOAuthError(body: unknown): string | undefined {
  if (body === null || typeof body !== 'object') return undefined;
  const value = (body as { error?: unknown }).error;
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** A plain error with the message and code of the original, without config, request or body. */
function summarize(error: unknown): Error {
  const source = error instanceof AxiosError && error.cause instanceof Error ? error.cause : error;
  const message = source instanceof Error ? source.message : String(source);
  const summary = new Error(message);
  const code = (source as { code?: unknown } | null)?.code;
  if (typeof code === 'string') Object.assign(summary, { code });
  summary.stack = `${summary.name}: ${message}`;
  return summary;
}
