import pLimit from 'p-limit';
import { createServiceTitanClient, type ServiceTitanClient, type ServiceTitanClientOptions } from './client';
import { invalidConfig } from './errors';
import { resolveOptions, type TokenRequestOptions } from './options';
import { MemoryTokenStore } from './stores/memory';
import { describe } from './urls';

/** One tenant's app-connection credentials. */
export interface TenantCredentials {
  clientId: string;
  clientSecret: string;
}

/** Options of {@link createTenantClients}: everything a client takes, except what differs per tenant. */
export interface TenantClientsOptions extends Omit<
  ServiceTitanClientOptions,
  'clientId' | 'clientSecret' | 'tenantId' | 'tokenLimiter' | 'tokenRequest'
> {
  /**
   * How every tenant's client fetches tokens (see {@link TokenRequestOptions}), except the
   * limiter: all tenants share one, of `tokenConcurrency` slots.
   * @default {}
   */
  tokenRequest?: Omit<TokenRequestOptions, 'limiter'>;
  /**
   * Looks up a tenant's client id and secret (from your database, a secrets manager…). Called
   * once per tenant; a failed lookup is not cached, so the next `forTenant` tries again.
   */
  credentials: (tenantId: string) => TenantCredentials | Promise<TenantCredentials>;
  /**
   * Most token requests in flight at once across all tenants, so a cold start of hundreds of
   * tenants does not stampede ServiceTitan's throttled token endpoint. @default 4
   */
  tokenConcurrency?: number;
}

/** One client per tenant, created on first use and kept. */
export interface TenantClients {
  /** The tenant's client (with `{tenant}` filled), creating it on first use. */
  forTenant(tenantId: string | number): Promise<ServiceTitanClient>;
  /** Forgets a tenant's client (e.g. after its credentials were rotated). */
  forget(tenantId: string | number): boolean;
  /** Tenants with a client. */
  readonly tenants: readonly string[];
}

/**
 * Clients for many tenants of one application: one app key, credentials per tenant, one token
 * store and one token-fetch limiter shared by all, each tenant with its own rate limit (60
 * requests/s is per tenant).
 *
 * @example
 * const tenants = createTenantClients({
 *   environment: 'production', appKey,
 *   credentials: async (tenantId) => db.credentialsFor(tenantId),
 * });
 * const client = await tenants.forTenant(1234567);
 * await client.get('/crm/v2/tenant/{tenant}/customers');
 */
export function createTenantClients(options: TenantClientsOptions): TenantClients {
  if (options === null || typeof options !== 'object')
    throw invalidConfig(`options must be an object, got ${describe(options)}`);
  // A limiter given anyway (untyped callers) is replaced by the shared one, as it always was.
  const {
    credentials,
    tokenConcurrency = 4,
    tokenLimiter: _ignored,
    ...shared
  } = options as TenantClientsOptions & {
    tokenLimiter?: unknown;
  };
  if (typeof credentials !== 'function')
    throw invalidConfig(
      `credentials must be a function (tenantId) => { clientId, clientSecret }, got ${describe(credentials)}`,
    );
  if (!Number.isInteger(tokenConcurrency) || tokenConcurrency < 1) {
    throw invalidConfig(`tokenConcurrency must be an integer >= 1, got ${describe(tokenConcurrency)}`);
  }
  // Check the shared options now rather than at the first tenant.
  resolveOptions({ ...shared, clientId: 'check', clientSecret: 'check' });

  const limiter = pLimit(tokenConcurrency);
  const store = shared.store ?? new MemoryTokenStore();
  const clients = new Map<string, Promise<ServiceTitanClient>>();

  const create = async (tenantId: string): Promise<ServiceTitanClient> => {
    const found = await credentials(tenantId);
    if (found === null || typeof found !== 'object') {
      throw invalidConfig(
        `credentials(${JSON.stringify(tenantId)}) must return { clientId, clientSecret }, got ${describe(found)}`,
      );
    }
    return createServiceTitanClient({
      ...shared,
      clientId: found.clientId,
      clientSecret: found.clientSecret,
      tenantId,
      store,
      tokenRequest: { ...shared.tokenRequest, limiter },
    });
  };

  return {
    forTenant(tenantId) {
      const key = String(tenantId);
      let client = clients.get(key);
      if (client === undefined) {
        client = create(key);
        clients.set(key, client);
        const created = client;
        created.catch(() => {
          if (clients.get(key) === created) clients.delete(key);
        });
      }
      return client;
    },
    forget: (tenantId) => clients.delete(String(tenantId)),
    get tenants() {
      return [...clients.keys()];
    },
  };
}
