import pLimit, { type LimitFunction } from 'p-limit';
import { environments, type ServiceTitanEnvironment, type ServiceTitanEnvironmentName } from './environments';
import { readRenamedOption, type DeprecatedOptionName, type GivenOption } from './deprecated-options';
import { invalidConfig } from './errors';
import { silentLogger, type ServiceTitanLogger } from './logging/logger';
import { guardLogger } from './observers';
import { MemoryTokenStore } from './stores/memory';
import type { TokenStore } from './stores/types';
import { checkTimerDuration, MAX_TIMER_MS } from './timer-limits';
import { createClientTelemetry, type ClientTelemetry } from './telemetry/client-telemetry';
import { describe, parseSecureUrl } from './urls';

/**
 * Options of {@link attachServiceTitanAuth}; every optional field says its default. Every
 * duration ends in `Ms` and is at most 2^31 − 1 ms, the longest delay Node's timers support.
 * Options about fetching tokens are grouped under `tokenRequest`; `retry`, `rateLimit` and
 * `reportLimit` of {@link createServiceTitanClient} are about API requests.
 */
export interface ServiceTitanAuthOptions extends DeprecatedAuthOptions {
  /** The client id of the tenant's app connection (per tenant and per environment). Required. */
  clientId: string;
  /** The client secret that goes with `clientId`. Required. Never logged, never in an error. */
  clientSecret: string;
  /**
   * `'integration'`, `'production'` or explicit `{ authUrl, apiUrl }` (for the sandbox or a
   * proxy). URLs must be https (http only on loopback). Required.
   */
  environment: ServiceTitanEnvironmentName | ServiceTitanEnvironment;
  /**
   * The application key (per application, from the developer portal), sent as `ST-App-Key` with
   * every request that gets the token. Required: ServiceTitan rejects every API call without it.
   */
  appKey: string;
  /**
   * A token is renewed (in the background) once it has less than this many ms left, but never
   * before half its lifetime has passed (so a short-lived token is not renewed per request).
   * @default 60_000
   */
  refreshBufferMs?: number;
  /** Where tokens are cached; share one store between handles to share tokens. @default a new MemoryTokenStore */
  store?: TokenStore;
  /**
   * Origins besides the environment's `apiUrl` that may receive the token and app key (for
   * example a reverse proxy in front of the API). Each must be https (http only on loopback).
   * @default []
   */
  allowedOrigins?: readonly string[];
  /** API response statuses that mean "token rejected": renew once and replay. @default [401] */
  renewOnStatus?: readonly number[];
  /**
   * How tokens are fetched from the token endpoint: deadline, retries, `Retry-After`, the
   * cooldowns after a failed fetch, concurrency and the wait for another process's fetch.
   * @default {} (every field its default)
   */
  tokenRequest?: TokenRequestOptions;
  /**
   * A 401 for a token the API has accepted is always renewed. A 401 for a token that was itself
   * obtained for a 401 and that the API has not accepted since goes to the caller without a
   * renewal for 1 s, then 2 s, 4 s … up to this many ms per renewal in a row (any accepted
   * response starts over at 1 s): the API is probably rejecting something a new token does not
   * cure (the app key, a permission), and renewing for every request would hammer ServiceTitan's
   * throttled token endpoint. `0` renews on every 401.
   * @default 10_000
   */
  renewalCooldownMs?: number;
  /**
   * Receives debug/info/warn/error events (token fetches, renewals, replays). A method that throws
   * or never settles costs one process warning and changes no request. @default silent
   */
  logger?: ServiceTitanLogger;
  /**
   * OpenTelemetry metrics and spans (token requests, renewals, replays, rate-limit waits, store
   * fallbacks) through `@opentelemetry/api`, recorded only when the application has installed it
   * and registered an SDK; without one every hook is a no-op. An SDK that throws costs one process
   * warning and changes no request. `false` turns it off for this client.
   * The instruments and their attributes: docs/observability.md.
   * @default true
   */
  telemetry?: boolean;
}

/**
 * `tokenRequest` of {@link ServiceTitanAuthOptions}: how tokens are fetched from the token
 * endpoint (API requests have `retry` and `rateLimit` of the client instead). A token fetch takes
 * at most `timeoutMs × (retries + 1)` plus the backoff between attempts and any `Retry-After` up
 * to `maxRetryAfterMs`.
 */
export interface TokenRequestOptions {
  /**
   * Deadline of one token request attempt, in ms, from connect to the last byte of the answer
   * (not an idle timer: a body trickled a byte at a time cannot stretch it). @default 10_000
   */
  timeoutMs?: number;
  /** Retries of a token request after network errors, timeouts, 5xx and 429. @default 2 */
  retries?: number;
  /** Base delay of the exponential backoff between token request attempts, in ms (+0–20% jitter). @default 300 */
  retryDelayMs?: number;
  /**
   * The longest a `Retry-After` from the token endpoint holds this client back (seconds or an
   * HTTP date; negative, malformed or past values count as absent). One that fits is waited out
   * before retrying; a longer one fails the fetch with `rate_limited` at once, and the cooldown
   * it starts (the error's `retryAfterMs`) is this long, not what the server asked for: an
   * endpoint answering `Retry-After: 99999999999` costs 30 s, not 3,169 years. (API requests:
   * `retry.maxRetryAfterMs` of the client.)
   * @default 30_000
   */
  maxRetryAfterMs?: number;
  /**
   * After the token endpoint said 429 and retries are spent, new token fetches fail fast with the
   * same `rate_limited` error for `Retry-After` (at most `maxRetryAfterMs`), or for this many ms
   * when it gave none. @default 5_000
   */
  rateLimitedCooldownMs?: number;
  /**
   * After any other failed token fetch (rejected credentials, 5xx or network errors after
   * retries, a malformed answer), new fetches fail fast with the same error for this long, so a
   * stream of requests cannot turn one failure into a stream of token requests. `0` disables it.
   * Rejected credentials (`invalid_client`) double it with each rejection in a row, up to
   * `maxInvalidClientCooldownMs`; a token obtained resets that.
   * @default 1_000
   */
  failureCooldownMs?: number;
  /**
   * The longest cooldown after rejected credentials (`invalid_client`): 1 s, 2 s, 4 s … up to
   * this, so a wrong or revoked secret costs a few token requests per process per few minutes,
   * not one per second that could get the client locked out.
   * @example tokenRequest: { maxInvalidClientCooldownMs: 60_000 }
   * @default 300_000 (5 minutes)
   */
  maxInvalidClientCooldownMs?: number;
  /**
   * Limits concurrent token requests. Pass one `pLimit(n)` to many handles (one per tenant) to
   * keep a cold start of hundreds of tenants from stampeding the token endpoint.
   * @default pLimit(1) per handle
   */
  limiter?: LimitFunction;
  /**
   * With a shared store that supports locking (Redis): how long a process waits for another
   * one's token fetch before fetching itself, and how long the fetch lock lives.
   * @default timeoutMs × (retries + 1) + 2_000 (32 s with the defaults)
   */
  fleetWaitMs?: number;
}

/**
 * The names of 0.1, still accepted (each costs one `DeprecationWarning` per process). Giving an
 * old name and its new one together is `invalid_config`. See the CHANGELOG for the mapping.
 */
export interface DeprecatedAuthOptions {
  /** @deprecated Use refreshBufferMs (in ms: seconds × 1000). */
  refreshBufferSeconds?: number;
  /** @deprecated Use tokenRequest.timeoutMs */
  tokenTimeoutMs?: number;
  /** @deprecated Use tokenRequest.retries */
  tokenRetries?: number;
  /** @deprecated Use tokenRequest.retryDelayMs */
  tokenRetryDelayMs?: number;
  /** @deprecated Use tokenRequest.maxRetryAfterMs (API requests: retry.maxRetryAfterMs) */
  maxRetryAfterMs?: number;
  /** @deprecated Use tokenRequest.rateLimitedCooldownMs */
  rateLimitCooldownMs?: number;
  /** @deprecated Use tokenRequest.failureCooldownMs */
  failureCooldownMs?: number;
  /** @deprecated Use tokenRequest.maxInvalidClientCooldownMs */
  maxInvalidClientCooldownMs?: number;
  /** @deprecated Use tokenRequest.limiter */
  tokenLimiter?: LimitFunction;
  /** @deprecated Use tokenRequest.fleetWaitMs */
  fleetWaitMs?: number;
}

/**
 * Options after validation, with every default applied, whichever names the user gave (the
 * `token…`, `…Cooldown…`, `maxRetryAfterMs` and `fleetWaitMs` fields are `tokenRequest`'s).
 */
export interface ResolvedOptions {
  clientId: string;
  clientSecret: string;
  authUrl: string;
  apiOrigin: string;
  allowedOrigins: ReadonlySet<string>;
  appKey: string;
  refreshBufferMs: number;
  store: TokenStore;
  /** The store is the default one, made for this handle alone: no other client can read it. */
  storeIsPrivate: boolean;
  renewOnStatus: ReadonlySet<number>;
  tokenTimeoutMs: number;
  tokenRetries: number;
  tokenRetryDelayMs: number;
  maxRetryAfterMs: number;
  rateLimitCooldownMs: number;
  failureCooldownMs: number;
  maxInvalidClientCooldownMs: number;
  renewalCooldownMs: number;
  tokenLimiter: LimitFunction;
  fleetWaitMs: number;
  logger: ServiceTitanLogger;
  telemetry: ClientTelemetry;
}

/**
 * Checks every option and applies defaults field by field (an explicit `undefined` means
 * "default", never "unset"). Throws `invalid_config` naming the first bad option.
 */
export function resolveOptions(options: ServiceTitanAuthOptions): ResolvedOptions {
  if (options === null || typeof options !== 'object') {
    throw invalidConfig(`options must be an object, got ${describe(options)}`);
  }
  const environment = resolveEnvironment(options.environment);
  const authUrl = parseSecureUrl(environment.authUrl, 'environment.authUrl').href;
  const apiOrigin = parseSecureUrl(environment.apiUrl, 'environment.apiUrl').origin;
  const tokenRequest = resolveTokenRequestGroup(options.tokenRequest);
  const given = (oldName: DeprecatedOptionName, newValue: unknown): GivenOption =>
    readRenamedOption(options, oldName, newValue);
  const tokenTimeoutMs = timerOption(given('tokenTimeoutMs', tokenRequest.timeoutMs), 10_000, { min: 1 });
  const tokenRetries = numberOption(given('tokenRetries', tokenRequest.retries), 2, { integer: true });
  return {
    clientId: requiredString(options.clientId, 'clientId'),
    clientSecret: requiredString(options.clientSecret, 'clientSecret'),
    authUrl,
    apiOrigin,
    allowedOrigins: resolveAllowedOrigins(options.allowedOrigins, apiOrigin),
    appKey: requiredString(options.appKey, 'appKey'),
    refreshBufferMs: resolveRefreshBuffer(given('refreshBufferSeconds', options.refreshBufferMs)),
    store: resolveStore(options.store),
    storeIsPrivate: options.store === undefined,
    renewOnStatus: resolveStatuses(options.renewOnStatus),
    tokenTimeoutMs,
    tokenRetries,
    tokenRetryDelayMs: timerOption(given('tokenRetryDelayMs', tokenRequest.retryDelayMs), 300),
    maxRetryAfterMs: timerOption(given('maxRetryAfterMs', tokenRequest.maxRetryAfterMs), 30_000),
    rateLimitCooldownMs: timerOption(given('rateLimitCooldownMs', tokenRequest.rateLimitedCooldownMs), 5_000),
    failureCooldownMs: timerOption(given('failureCooldownMs', tokenRequest.failureCooldownMs), 1_000),
    maxInvalidClientCooldownMs: timerOption(
      given('maxInvalidClientCooldownMs', tokenRequest.maxInvalidClientCooldownMs),
      300_000,
    ),
    renewalCooldownMs: timerOption({ value: options.renewalCooldownMs, name: 'renewalCooldownMs' }, 10_000),
    tokenLimiter: resolveLimiter(given('tokenLimiter', tokenRequest.limiter)),
    // The default is derived (from the resolved values, whichever names gave them), so it is
    // capped rather than refused.
    fleetWaitMs: timerOption(
      given('fleetWaitMs', tokenRequest.fleetWaitMs),
      Math.min(tokenTimeoutMs * (tokenRetries + 1) + 2_000, MAX_TIMER_MS),
      { min: 1 },
    ),
    logger: resolveLogger(options.logger),
    telemetry: createClientTelemetry(options.telemetry, {
      environment: typeof options.environment === 'string' ? options.environment : 'custom',
      clientId: options.clientId,
      authUrl,
    }),
  };
}

function resolveEnvironment(value: unknown): ServiceTitanEnvironment {
  if (value === 'integration' || value === 'production') return environments[value];
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    return value as ServiceTitanEnvironment;
  }
  const shown = typeof value === 'string' ? JSON.stringify(value) : describe(value);
  throw invalidConfig(`environment must be 'integration', 'production' or { authUrl, apiUrl }, got ${shown}`);
}

function requiredString(value: unknown, name: string): string {
  if (typeof value !== 'string' || value.trim() === '') {
    throw invalidConfig(`${name} must be a non-empty string, got ${describe(value)}`);
  }
  return value;
}

/** An option's value and the name to show in an error: the one the user wrote. */
type NamedOption = Pick<GivenOption, 'value' | 'name'>;

function numberOption(
  { value, name }: NamedOption,
  fallback: number,
  { min = 0, integer = false }: { min?: number; integer?: boolean } = {},
): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || (integer && !Number.isInteger(value))) {
    const kind = integer ? 'an integer' : 'a finite number';
    throw invalidConfig(`${name} must be ${kind} >= ${min}, got ${describe(value)}`);
  }
  return value;
}

/** A duration in ms that ends up in a timer: {@link numberOption}, at most 2^31 − 1. */
function timerOption(option: NamedOption, fallback: number, limits: { min?: number } = {}): number {
  return checkTimerDuration(numberOption(option, fallback, limits), option.name);
}

/** `refreshBufferMs`, or the deprecated `refreshBufferSeconds` checked in its own unit. */
function resolveRefreshBuffer(option: GivenOption): number {
  if (!option.deprecated) return timerOption(option, 60_000);
  return checkTimerDuration(numberOption(option, 60), option.name, 's') * 1000;
}

function resolveTokenRequestGroup(value: unknown): TokenRequestOptions {
  if (value === undefined) return {};
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw invalidConfig(`tokenRequest must be an object, got ${describe(value)}`);
  }
  return value as TokenRequestOptions;
}

function resolveAllowedOrigins(value: unknown, apiOrigin: string): ReadonlySet<string> {
  if (value === undefined) return new Set([apiOrigin]);
  if (!Array.isArray(value)) throw invalidConfig(`allowedOrigins must be an array of URLs, got ${describe(value)}`);
  const origins = value.map((entry, index) => parseSecureUrl(entry, `allowedOrigins[${index}]`).origin);
  return new Set([apiOrigin, ...origins]);
}

function resolveStatuses(value: unknown): ReadonlySet<number> {
  if (value === undefined) return new Set([401]);
  if (!Array.isArray(value) || value.some((s) => !Number.isInteger(s) || s < 400 || s > 599)) {
    throw invalidConfig('renewOnStatus must be an array of HTTP error statuses (400-599)');
  }
  return new Set(value as number[]);
}

function resolveStore(value: unknown): TokenStore {
  if (value === undefined) return new MemoryTokenStore();
  const store = value as Partial<TokenStore> | null;
  if (
    !store ||
    typeof store.get !== 'function' ||
    typeof store.set !== 'function' ||
    typeof store.delete !== 'function'
  ) {
    throw invalidConfig('store must implement the TokenStore interface (get, set, delete)');
  }
  return store as TokenStore;
}

function resolveLimiter({ value, name }: NamedOption): LimitFunction {
  if (value === undefined) return pLimit(1);
  if (typeof value !== 'function') throw invalidConfig(`${name} must be a p-limit function, got ${describe(value)}`);
  return value as LimitFunction;
}

function resolveLogger(value: unknown): ServiceTitanLogger {
  if (value === undefined) return silentLogger;
  if (value === null || typeof value !== 'object')
    throw invalidConfig(`logger must be an object, got ${describe(value)}`);
  // Behind observe(): a logger that throws or never settles cannot fail or hold up a request.
  return guardLogger(value as ServiceTitanLogger);
}
