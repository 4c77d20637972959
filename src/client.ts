import axios, { type AxiosInstance, type CreateAxiosDefaults, type InternalAxiosRequestConfig } from 'axios';
import { carryRetryOverrides, installApiRetries, type ApiRetryOptions } from './api-retry';
import { attachResolved, type ServiceTitanAuth } from './attach';
import { checkAxiosVersion } from './axios-version';
import { environments } from './environments';
import { invalidConfig } from './errors';
import { resolveOptions, type ServiceTitanAuthOptions } from './options';
import { DEFAULT_CLIENT_TIMEOUT_MS, markRequestStart } from './rate-limit/deadline';
import { installRateLimit } from './rate-limit/install';
import { type RateLimitOptions, type ReportLimitOptions } from './rate-limit/options';
import { tenantIdOption } from './tenant-id';
import type { TenantOption } from './tenant-placeholder';
import { msOption } from './timer-limits';
import { describe } from './urls';

/** Options of {@link createServiceTitanClient}: the auth options plus the client's own. */
export interface ServiceTitanClientOptions extends ServiceTitanAuthOptions, TenantOption {
  /**
   * Extra axios defaults (timeout, headers, agents…). `baseURL` defaults to the environment's
   * `apiUrl`. `timeout` defaults to 105 000 ms, just above the 100 s after which ServiceTitan's
   * servers give up (0 turns it off); a request's `timeout` and `signal` count from the moment
   * it is made and bound everything it waits for: the token (first fetch or renewal after a
   * 401), time queued behind the rate limit, the exchange, retry delays and `Retry-After`, the
   * replay. When the time runs out the error is axios's timeout error, never a token error.
   * @default { timeout: 105_000 }
   */
  axios?: CreateAxiosDefaults;
  /**
   * Client-side rate limit, so the client never causes ServiceTitan's 429s: at most 60 requests
   * sent in any rolling window of 1 s + `windowMarginMs`, counted by when they are sent. Requests
   * over the limit wait. A 429 pauses the whole client for its `Retry-After`. `store` shares
   * the budget across processes. `false` turns it off.
   * @default { requestsPerSecond: 60, windowMarginMs: 40, maxConcurrent: Infinity, pauseOn429Ms: 1000 }
   */
  rateLimit?: RateLimitOptions | false;
  /**
   * The reporting limit: report-data calls (`/reporting/…/reports/{id}/data`, each page a run
   * of the report) wait so that at most `perMinute` for the same report start in any rolling
   * minute. Sources disagree on ServiceTitan's figure (5 or 1 run a minute per tenant): the
   * default is the stricter. A 429 on report data holds back that report alone, for its
   * `Retry-After`. `false` turns it off.
   * @default { perMinute: 1 }
   */
  reportLimit?: ReportLimitOptions | false;
  /**
   * Retries of API requests with axios-retry: 429 (honouring `Retry-After` up to
   * `maxRetryAfterMs`), network errors and 502/503/504, within the request's `timeout` (a retry
   * whose wait would outlast it is not made: axios's timeout error at once), for GET, HEAD, OPTIONS, PUT and DELETE; POST and PATCH only with
   * `retryNonIdempotent`. Per request: `serviceTitanAuth: { retry: false | { retries, retryNonIdempotent } }`.
   * `false` turns them off.
   * @default { retries: 3, statuses: [429, 502, 503, 504], retryNonIdempotent: false, retryDelayMs: 300, maxRetryAfterMs: 60_000 }
   */
  retry?: ApiRetryOptions | false;
}

/** An axios instance with ServiceTitan auth attached, and its handle as `auth`. */
export type ServiceTitanClient = AxiosInstance & { readonly auth: ServiceTitanAuth };

/**
 * Builds an axios instance for one environment and tenant, with `baseURL` set to the
 * environment's API origin and ServiceTitan auth attached.
 *
 * @example
 * const client = createServiceTitanClient({ clientId, clientSecret, appKey, environment: 'integration', tenantId: 123 });
 * const { data } = await client.get('/crm/v2/tenant/{tenant}/customers', { params: { pageSize: 100 } });
 */
export function createServiceTitanClient(options: ServiceTitanClientOptions): ServiceTitanClient {
  if (options === null || typeof options !== 'object')
    throw invalidConfig(`options must be an object, got ${describe(options)}`);
  const { tenantId, axios: axiosDefaults, rateLimit, reportLimit, retry, ...authOptions } = options;
  const tenant = tenantIdOption(tenantId);
  if (axiosDefaults !== undefined && (axiosDefaults === null || typeof axiosDefaults !== 'object')) {
    throw invalidConfig(`axios must be an object of axios defaults, got ${describe(axiosDefaults)}`);
  }
  const apiUrl =
    typeof authOptions.environment === 'string'
      ? environments[authOptions.environment]?.apiUrl
      : (authOptions.environment as { apiUrl?: string } | undefined)?.apiUrl;
  const baseURL = axiosDefaults?.baseURL ?? apiUrl;
  const timeout = msOption(axiosDefaults?.timeout, 'axios.timeout', DEFAULT_CLIENT_TIMEOUT_MS);
  const instance = axios.create({ ...axiosDefaults, timeout, ...(baseURL === undefined ? {} : { baseURL }) });
  // Order matters: retries see errors before the auth interceptor redacts them, and axios runs
  // request interceptors in reverse, so the request's start is noted first (startRequest, added
  // last), then {tenant} is filled and the token added (the auth interceptor).
  const resolved = resolveOptions(authOptions);
  checkAxiosVersion(instance, resolved.logger);
  const maxRetryAfterMs = installApiRetries(instance, retry);
  installRateLimit(instance, rateLimit, reportLimit, {
    appKey: resolved.appKey,
    tenant,
    logger: resolved.logger,
    maxRetryAfterMs,
    telemetry: resolved.telemetry,
  });
  const auth = attachResolved(instance, resolved, tenant);
  instance.interceptors.request.use(startRequest, undefined, { synchronous: true });
  // A plain assignment: Object.assign turned the instance (a function with axios's ~19 own
  // properties) into dictionary mode, slower to read and larger per client (issue 18 item 3).
  const client = instance as AxiosInstance & { auth: ServiceTitanAuth };
  client.auth = auth;
  return client;
}

/**
 * The client's first request interceptor: the request's clock starts (its deadline) and its
 * per-request retry count reaches axios-retry. One interceptor for both: each is a step of
 * axios's promise chain for every request (issue 18 item 6).
 */
function startRequest(config: InternalAxiosRequestConfig): InternalAxiosRequestConfig {
  markRequestStart(config);
  carryRetryOverrides(config);
  return config;
}
