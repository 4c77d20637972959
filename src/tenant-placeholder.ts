import type { InternalAxiosRequestConfig } from 'axios';
import { ServiceTitanAuthError } from './errors';

/** The option that names the tenant, on a client and on an attached instance alike. */
export interface TenantOption {
  /**
   * The tenant the requests are for (a positive integer, or a string of digits denoting one:
   * ServiceTitan tenant ids are int64); fills `{tenant}` in request URLs, so
   * `api.get('/crm/v2/tenant/{tenant}/customers')` needs no string building.
   * @default undefined (a URL containing `{tenant}` then fails with `invalid_config` before it is sent)
   */
  tenantId?: string | number;
}

const TENANT_PLACEHOLDER = '{tenant}';

/**
 * Fills `{tenant}` in the request's URL with `tenant`, or, when no tenant is known, fails such a
 * request with `invalid_config` before it is sent (ServiceTitan would answer 403 to a literal
 * `{tenant}`). One implementation for `createServiceTitanClient` and `attachServiceTitanAuth`:
 * the first step of the auth request interceptor (src/interceptors.ts), for every request of
 * the instance, whatever its origin or `skip`.
 */
export function fillTenant(config: InternalAxiosRequestConfig, tenant: string | undefined): InternalAxiosRequestConfig {
  const url = config.url;
  if (url === undefined || !url.includes(TENANT_PLACEHOLDER)) return config;
  if (tenant === undefined) {
    // The path only: a query string may carry something the caller would not want in a log.
    throw new ServiceTitanAuthError(
      'invalid_config',
      `The URL ${url.split('?')[0]!} contains {tenant} but no tenantId was given: ` +
        'pass tenantId to createServiceTitanClient or attachServiceTitanAuth (or put the tenant id in the URL)',
    );
  }
  config.url = url.replaceAll(TENANT_PLACEHOLDER, tenant);
  return config;
}
