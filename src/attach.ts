import type { AxiosInstance } from 'axios';
import { checkAxiosVersion } from './axios-version';
import { invalidConfig } from './errors';
import { createAcceptanceRecorder, createRequestInterceptors, createResponseErrorInterceptor } from './interceptors';
import { resolveOptions, type ResolvedOptions, type ServiceTitanAuthOptions } from './options';
import { OriginPolicy } from './origin-policy';
import { tenantIdOption } from './tenant-id';
import type { TenantOption } from './tenant-placeholder';
import { TokenProvider, type GetTokenOptions } from './token/token-provider';
import './request-options';

/** The handle returned by {@link attachServiceTitanAuth}. */
export interface ServiceTitanAuth {
  /**
   * The current bearer token, fetching one if there is none (concurrent calls share one fetch).
   * Use it for calls that do not go through the instance.
   */
  getToken(options?: GetTokenOptions): Promise<string>;
  /** Forgets the cached token (here and in the store); the next request fetches a new one. */
  invalidate(): Promise<void>;
  /** Removes the interceptors; the instance can be attached again afterwards. */
  detach(): void;
}

/** Options of {@link attachServiceTitanAuth}: the auth options and the tenant that fills `{tenant}`. */
export interface AttachServiceTitanAuthOptions extends ServiceTitanAuthOptions, TenantOption {}

/**
 * The instances that have the plugin, kept in the global symbol registry rather than in this
 * module: when the ESM and the CommonJS builds are both loaded, each has its own module scope,
 * and a module-level set would let both attach to one instance unnoticed (every request would
 * get two token injections and a 401 two renewals).
 */
const ATTACHED_INSTANCES = Symbol.for('axios-servicetitan-auth.attachedInstances');
const globalRegistry = globalThis as unknown as Record<symbol, WeakSet<object> | undefined>;
const attachedInstances: WeakSet<object> = (globalRegistry[ATTACHED_INSTANCES] ??= new WeakSet<object>());

/**
 * Installs the ServiceTitan interceptors on an axios instance you already have. Throws a
 * `ServiceTitanAuthError` with code `invalid_config` at once on bad options (naming the option),
 * when the instance already has them, and when axios is older than 1.16.1 while a proxy is
 * configured (such an axios sends the secrets to the proxy in clear text; without a proxy it
 * warns once).
 *
 * A request's `timeout` and `signal` bound everything the plugin makes it wait for: the token
 * (first fetch, or renewal after a 401), the exchange and the replay, with axios's timeout error
 * (`ECONNABORTED`, or `ETIMEDOUT` with `transitional.clarifyTimeoutError`) when time runs out.
 * The clock starts when the plugin's request interceptor runs: after the request interceptors
 * you add after attaching (axios runs the latest first), before those added earlier. The
 * deadline is the request's `timeout` at that moment; retries that carry the config (axios-retry)
 * share it.
 *
 * With `tenantId`, `{tenant}` in request URLs is filled as on `createServiceTitanClient`;
 * without it, a request whose URL contains `{tenant}` fails with `invalid_config` before it is sent.
 *
 * @example
 * const api = axios.create({ baseURL: environments.production.apiUrl });
 * const auth = attachServiceTitanAuth(api, { clientId, clientSecret, appKey, environment: 'production' });
 * const { data } = await api.get(`/crm/v2/tenant/${tenantId}/customers`);
 */
export function attachServiceTitanAuth(
  instance: AxiosInstance,
  options: AttachServiceTitanAuthOptions,
): ServiceTitanAuth {
  if (instance === null || typeof instance !== 'function' || instance.interceptors === undefined) {
    throw invalidConfig('attachServiceTitanAuth needs an axios instance (from axios.create()) as its first argument');
  }
  if (attachedInstances.has(instance)) {
    throw invalidConfig(
      'this axios instance already has ServiceTitan auth attached; call detach() on the first handle before attaching again',
    );
  }
  const resolved = resolveOptions(options);
  const tenant = tenantIdOption(options.tenantId);
  checkAxiosVersion(instance, resolved.logger);
  return attachResolved(instance, resolved, tenant);
}

/** {@link attachServiceTitanAuth} with options already resolved (the client shares them with its rate limit). */
export function attachResolved(
  instance: AxiosInstance,
  resolved: ResolvedOptions,
  tenant: string | undefined,
): ServiceTitanAuth {
  const provider = new TokenProvider(resolved);
  const context = { instance, options: resolved, provider, policy: new OriginPolicy(resolved.allowedOrigins), tenant };

  // In this order: the first's runWhen chooses which of the two runs (createRequestInterceptors).
  const requestIds = createRequestInterceptors(context).map(({ fulfilled, runWhen, synchronous }) =>
    instance.interceptors.request.use(fulfilled, undefined, { runWhen, synchronous }),
  );
  const responseId = instance.interceptors.response.use(
    createAcceptanceRecorder(context),
    createResponseErrorInterceptor(context),
  );
  attachedInstances.add(instance);

  let attached = true;
  return {
    getToken: (getTokenOptions) => provider.getToken(getTokenOptions),
    invalidate: () => provider.invalidate(),
    detach: () => {
      if (!attached) return;
      attached = false;
      for (const id of requestIds) instance.interceptors.request.eject(id);
      instance.interceptors.response.eject(responseId);
      attachedInstances.delete(instance);
    },
  };
}
