import {
  AxiosError,
  CanceledError,
  type AxiosInstance,
  type AxiosResponse,
  type InternalAxiosRequestConfig,
} from 'axios';
import { isAbortOf } from './abort';
import { isServiceTitanAuthError } from './errors';
import type { ResolvedOptions } from './options';
import type { OriginPolicy } from './origin-policy';
import { bindAdapterToDeadline, markRequestStart, untilDeadline } from './rate-limit/deadline';
import { redactAxiosError } from './redaction';
import { fillTenant } from './tenant-placeholder';
import type { TokenProvider } from './token/token-provider';
import { WithheldCredentialsNotice } from './withheld-credentials';

interface InterceptorContext {
  instance: AxiosInstance;
  options: ResolvedOptions;
  provider: TokenProvider;
  policy: OriginPolicy;
  /** Fills `{tenant}` in request URLs (src/tenant-placeholder.ts). */
  tenant: string | undefined;
}

type RedirectOptions = { href?: string; headers?: Record<string, unknown> };
type BeforeRedirect = (options: RedirectOptions, ...rest: unknown[]) => void;

/** A request interceptor with axios's options for when it runs and how. */
export interface RequestInterceptor {
  fulfilled: (config: InternalAxiosRequestConfig) => InternalAxiosRequestConfig | Promise<InternalAxiosRequestConfig>;
  runWhen: (config: InternalAxiosRequestConfig) => boolean;
  synchronous: boolean;
}

/**
 * The request interceptor: fills `{tenant}` in the URL (every request), then adds
 * `Authorization: Bearer …` and `ST-App-Key` to requests bound for an allowed origin. One
 * interceptor's work, not one per step: each adds a promise step to axios's chain for every
 * request (issue 18 item 6).
 *
 * Registered as two (use both, in this order), of which each request runs exactly one, chosen
 * when axios builds the request's chain: with a token cached, the first, marked synchronous; axios
 * then runs the chain without a promise per step when every other interceptor that runs is
 * synchronous too (a client's are), so a request is sent in the very call that makes it. Without
 * one, the second, which waits for the token within the request's timeout and signal. The
 * synchronous one injects the token it found when the chain was built if the cache has lost it
 * since (it expired in between, or an interceptor of the user's ran first and waited): that
 * request then carries the token current when it was made, and a 401 for it renews and replays
 * as for any other.
 */
export function createRequestInterceptors({
  options,
  provider,
  policy,
  tenant,
}: InterceptorContext): [RequestInterceptor, RequestInterceptor] {
  const stripOnForeignRedirect = createRedirectGuard(policy);
  const withheld = new WithheldCredentialsNotice(options);
  const inject = (config: InternalAxiosRequestConfig, token: string): InternalAxiosRequestConfig => {
    config.headers.set('Authorization', `Bearer ${token}`);
    config.headers.set('ST-App-Key', options.appKey);
    config.beforeRedirect = chainRedirectGuard(
      config.beforeRedirect as BeforeRedirect | undefined,
      stripOnForeignRedirect,
    );
    return config;
  };
  /** The interceptor's work; `tokenAtChain`: what the synchronous half found when the chain was built. */
  const intercept = (
    config: InternalAxiosRequestConfig,
    tokenAtChain: string | undefined,
  ): InternalAxiosRequestConfig | Promise<InternalAxiosRequestConfig> => {
    fillTenant(config, tenant);
    if (config.serviceTitanAuth?.skip === true) return config;
    if (!policy.allowsRequest(config)) {
      withheld.withheld(config);
      return config;
    }
    // The request's timeout counts from here on an attached instance (from the client's first
    // interceptor on a client) and bounds the token wait, the exchange and the replay.
    markRequestStart(config);
    bindAdapterToDeadline(config);
    const token = provider.peek() ?? tokenAtChain;
    if (token !== undefined) return inject(config, token);
    return untilDeadline(config, (signal) => provider.getToken({ signal })).then(
      (obtained) => inject(config, obtained),
      (error: unknown) => {
        throw tokenWaitFailure(error, config);
      },
    );
  };
  /** The token cached when axios built the chain of the request being made (see above). */
  let tokenAtChain: string | undefined;

  const withCachedToken: RequestInterceptor = {
    runWhen: () => (tokenAtChain = provider.peek()) !== undefined,
    fulfilled: (config) => intercept(config, tokenAtChain),
    synchronous: true,
  };
  const waitingForToken: RequestInterceptor = {
    runWhen: () => tokenAtChain === undefined,
    fulfilled: (config) => intercept(config, undefined),
    synchronous: false,
  };
  return [withCachedToken, waitingForToken];
}

/**
 * The response interceptor for answers: tells the provider that the API accepted the token a
 * request carried (DESIGN guarantee 3). Only while a renewed token awaits its first acceptance,
 * and then one compare: the hot path stays cheap.
 */
export function createAcceptanceRecorder({ options, provider, policy }: InterceptorContext) {
  return (response: AxiosResponse): AxiosResponse => {
    if (provider.awaitingAcceptance) recordAcceptance(response, options, provider, policy);
    return response;
  };
}

/**
 * A status that is not a rejection of the token (2xx, 3xx, and 403/404 and the like:
 * authentication passed) from an allowed origin is an acceptance. 429 and 5xx are not: a gateway
 * or the rate limit may answer before authentication. A final answer from another host means
 * the allowed origin (where the token went) answered with a redirect: an acceptance too, whatever
 * the other host then said.
 */
function recordAcceptance(
  response: AxiosResponse,
  options: ResolvedOptions,
  provider: TokenProvider,
  policy: OriginPolicy,
): void {
  const { status, config } = response;
  const redirectedAway = !answeredByAllowedOrigin(response.request, policy);
  if (!redirectedAway && (status >= 500 || status === 429 || options.renewOnStatus.has(status))) return;
  provider.accepted(bearerToken(config));
}

/**
 * The response error interceptor: on a 401 (or another `renewOnStatus`) for a request that
 * carried our token, renews the token only if the failed one is still current, then replays the
 * request once through the same instance. Everything that goes back to the caller is redacted.
 */
export function createResponseErrorInterceptor({ instance, options, provider, policy }: InterceptorContext) {
  // Secrets a server could echo besides the token and app key the request carried.
  const secrets = [options.appKey, options.clientSecret];
  const redact = (error: AxiosError) => redactAxiosError(error, secrets);
  return async (error: unknown): Promise<AxiosResponse> => {
    if (!(error instanceof AxiosError)) throw error;
    if (error.response !== undefined && provider.awaitingAcceptance) {
      recordAcceptance(error.response, options, provider, policy);
    }
    const config = error.config;
    if (config === undefined || !shouldRenewAndReplay(error, config, options, policy)) throw redact(error);

    const failedToken = bearerToken(config);
    let renewed: string | undefined;
    try {
      // The replay's request interceptor picks up the renewed token from the cache.
      renewed = await untilDeadline(config, (signal) => provider.renewAfterRejection(failedToken, signal));
    } catch (renewError) {
      redact(error);
      throw tokenWaitFailure(renewError, config);
    }
    if (renewed === undefined) {
      options.telemetry.renewalHeldBack();
      throw redact(error);
    }
    options.telemetry.replayed();
    options.logger.debug?.('replaying request after token renewal', { method: config.method, url: config.url });
    return instance.request({ ...config, serviceTitanAuth: { ...config.serviceTitanAuth, replayed: true } });
  };
}

function shouldRenewAndReplay(
  error: AxiosError,
  config: InternalAxiosRequestConfig,
  options: ResolvedOptions,
  policy: OriginPolicy,
): boolean {
  const status = error.response?.status;
  if (status === undefined || !options.renewOnStatus.has(status)) return false;
  const perRequest = config.serviceTitanAuth;
  if (perRequest?.skip === true || perRequest?.replayed === true) return false;
  if (!policy.allowsRequest(config)) return false;
  // After a redirect the 401 may come from another host: never renew for it.
  if (!answeredByAllowedOrigin(error.request, policy)) return false;
  if (!isReplayableBody(config.data)) {
    options.logger.warn?.('not replaying a request whose body is a stream; the 401 goes to the caller', {
      method: config.method,
      url: config.url,
    });
    return false;
  }
  return true;
}

/** After a redirect the answer may come from another host (follow-redirects' final URL). */
function answeredByAllowedOrigin(request: unknown, policy: OriginPolicy): boolean {
  const finalUrl = (request as { res?: { responseUrl?: string } } | undefined)?.res?.responseUrl;
  return finalUrl === undefined || policy.allowsUrl(finalUrl);
}

/** Streams are consumed by the first attempt: replaying one would send an empty or partial body. */
function isReplayableBody(data: unknown): boolean {
  if (data === null || typeof data !== 'object') return true;
  if (typeof (data as { pipe?: unknown }).pipe === 'function') return false;
  if (typeof ReadableStream !== 'undefined' && data instanceof ReadableStream) return false;
  return !(Symbol.asyncIterator in data);
}

/**
 * Why a request's wait for a token failed, as the caller gets it: the typed token error; axios's
 * cancel only when the request's own signal aborted; anything else (a bug, a faulty hook) as
 * what it is, redacted if it is an axios error, never disguised as a cancel.
 */
function tokenWaitFailure(error: unknown, config: InternalAxiosRequestConfig): unknown {
  if (isServiceTitanAuthError(error)) return error;
  if (isAbortOf(error, config.signal as AbortSignal | undefined)) return canceled(config);
  return error instanceof AxiosError ? redactAxiosError(error) : error;
}

/** The error axios itself gives an aborted request, so `axios.isCancel()` keeps working. */
function canceled(config: InternalAxiosRequestConfig): CanceledError<unknown> {
  const error = new CanceledError(undefined, config);
  redactAxiosError(error);
  return error;
}

function bearerToken(config: InternalAxiosRequestConfig): string | undefined {
  const header = config.headers?.get('Authorization');
  return typeof header === 'string' && header.startsWith('Bearer ') ? header.slice(7) : undefined;
}

/**
 * follow-redirects strips `Authorization` on cross-host redirects but forwards every other
 * header, `ST-App-Key` included; this drops both whenever a redirect leaves the allowed origins.
 */
function createRedirectGuard(policy: OriginPolicy): BeforeRedirect {
  return (redirect) => {
    if (redirect.href !== undefined && policy.allowsUrl(redirect.href)) return;
    const headers = redirect.headers ?? {};
    for (const name of Object.keys(headers)) {
      const lower = name.toLowerCase();
      if (lower === 'authorization' || lower === 'st-app-key') delete headers[name];
    }
  };
}

const GUARDED = Symbol('servicetitan-redirect-guarded');

function chainRedirectGuard(userHook: BeforeRedirect | undefined, guard: BeforeRedirect): BeforeRedirect {
  if (userHook === undefined || userHook === guard || (userHook as { [GUARDED]?: boolean })[GUARDED]) {
    return userHook ?? guard;
  }
  const chained: BeforeRedirect = (redirect, ...rest) => {
    userHook(redirect, ...rest);
    guard(redirect, ...rest);
  };
  return Object.assign(chained, { [GUARDED]: true });
}
