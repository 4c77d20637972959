import { randomBytes } from 'node:crypto';
import type { TenantCredentials } from '../../src';
import type { SandboxCredentials } from '../../src/testing';

/**
 * `count` tenants for a sandbox's (or the bench server's) `clients`: client ids
 * `<clientIdPrefix><n>`, tenant ids counting up from `firstTenantId`, and a random secret each,
 * so stores key and encrypt every tenant apart as they would real ones. (The benchmarks use it
 * too; give each suite its own prefix and range, so their keys never meet in a shared Redis.)
 */
export function manyTenants(count: number, clientIdPrefix: string, firstTenantId: number): SandboxCredentials[] {
  return Array.from({ length: count }, (_, index) => ({
    clientId: `${clientIdPrefix}${index}`,
    clientSecret: `cs1.${randomBytes(24).toString('hex')}`,
    tenantId: String(firstTenantId + index),
  }));
}

/** The tenants' credentials by tenant id: what `createTenantClients`' `credentials` looks up. */
export function credentialsByTenant(tenants: readonly SandboxCredentials[]): Map<string, TenantCredentials> {
  return new Map(tenants.map(({ tenantId, ...credentials }) => [tenantId, credentials]));
}
