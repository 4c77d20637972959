import { createTenantClients, type TenantClients, type TenantCredentials, type TokenStore } from '../../src';
import type { Sandbox } from '../../src/testing';

/**
 * A process's tenant clients on `sandbox` sharing `store`, rate limit off: what the fleet tests
 * start. What they warn of goes to `warnings` (a fallback to per-process fetching says so there).
 */
export function sandboxTenantClients(
  sandbox: Sandbox,
  credentials: Map<string, TenantCredentials>,
  store: TokenStore,
  warnings: string[],
): TenantClients {
  return createTenantClients({
    environment: sandbox.environment,
    appKey: sandbox.appKey,
    credentials: (tenantId) => credentials.get(tenantId)!,
    store,
    rateLimit: false,
    logger: { warn: (message, details) => warnings.push(`${message} ${JSON.stringify(details)}`) },
  });
}

/** Every tenant's first request, all at once, as a cold start makes them: their statuses. */
export function firstRequests(clients: TenantClients, tenantIds: Iterable<string>): Promise<number[]> {
  return Promise.all(
    [...tenantIds].map(async (tenantId) => {
      const client = await clients.forTenant(tenantId);
      return (await client.get('/crm/v2/tenant/{tenant}/customers', { params: { pageSize: 1 } })).status;
    }),
  );
}
