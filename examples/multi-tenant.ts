/**
 * Many tenants, one application: a client per tenant from a credentials lookup, sharing one
 * token store and one token-fetch limiter, each tenant with its own 60 requests/s.
 *
 *   npx tsx examples/multi-tenant.ts
 *     runs against the embedded sandbox with 20 generated tenants.
 *
 *   ST_APP_KEY=… ST_ENVIRONMENT=production ST_TENANTS_FILE=tenants.json npx tsx examples/multi-tenant.ts
 *     runs against real ServiceTitan (or ST_AUTH_URL / ST_API_URL, read like every example);
 *     tenants.json is [{ "tenantId": "…", "clientId": "…", "clientSecret": "…" }].
 */
import { readFile } from 'node:fs/promises';
import {
  createTenantClients,
  environmentFromEnv,
  isServiceTitanAuthError,
  type ServiceTitanEnvironment,
} from 'axios-servicetitan-auth';
import { startSandbox, type Sandbox, type SandboxCredentials } from 'axios-servicetitan-auth/testing';

async function main(): Promise<void> {
  const live = process.env.ST_TENANTS_FILE !== undefined;
  let sandbox: Sandbox | undefined;
  let tenants: SandboxCredentials[];
  let environment: 'integration' | 'production' | ServiceTitanEnvironment;
  let appKey: string;
  if (live) {
    tenants = JSON.parse(await readFile(process.env.ST_TENANTS_FILE!, 'utf8')) as SandboxCredentials[];
    environment = environmentFromEnv().environment; // ST_AUTH_URL + ST_API_URL, or ST_ENVIRONMENT
    appKey = process.env.ST_APP_KEY ?? '';
    if (appKey === '') throw new Error('ST_TENANTS_FILE is set: set ST_APP_KEY too');
  } else {
    tenants = Array.from({ length: 20 }, (_, i) => ({
      tenantId: String(2000 + i),
      clientId: `cid.example-${i}`,
      clientSecret: `cs1.example-secret-${i}`,
    }));
    sandbox = await startSandbox({ clients: tenants });
    environment = sandbox.environment;
    appKey = sandbox.appKey;
  }

  try {
    const clients = createTenantClients({
      environment,
      appKey,
      // Your database or secrets manager goes here; called once per tenant.
      credentials: (tenantId) => {
        const found = tenants.find((t) => t.tenantId === tenantId);
        if (!found) throw new Error(`no credentials for tenant ${tenantId}`);
        return found;
      },
      tokenConcurrency: 4, // at most 4 token requests at once across all tenants
    });

    const started = Date.now();
    const counts = await Promise.all(
      tenants.map(async ({ tenantId }) => {
        const client = await clients.forTenant(tenantId);
        const { data } = await client.get('/crm/v2/tenant/{tenant}/customers', {
          params: { pageSize: 1, includeTotal: true },
        });
        return { tenantId, customers: data.totalCount as number };
      }),
    );
    for (const { tenantId, customers } of counts.slice(0, 3)) console.log(`tenant ${tenantId}: ${customers} customers`);
    console.log(`… ${counts.length} tenants in ${Date.now() - started} ms`);
    if (sandbox) {
      console.log(
        `token requests: ${sandbox.token.count} (one per tenant), at most ${sandbox.token.maxInFlight} at once`,
      );
    }
  } finally {
    await sandbox?.close();
  }
}

main().catch((error: unknown) => {
  console.error(isServiceTitanAuthError(error) ? `[${error.code}] ${error.message}` : error);
  process.exitCode = 1;
});
