/**
 * Many tenants, one application: a client per tenant from a credentials lookup, sharing one
 * token store and one token-fetch limiter, each tenant with its own 60 requests/s; every
 * tenant's customers read page by page with `paginate`, a few tenants at a time, and a failed
 * tenant reported (with ServiceTitan's traceId) without stopping the others.
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
  paginate,
  problemDetails,
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

    // One tenant's job: every customer, page after page (`page`/`hasMore` handled by paginate).
    const syncTenant = async (tenantId: string): Promise<number> => {
      const client = await clients.forTenant(tenantId);
      const ids: number[] = [];
      const customers = paginate<{ id: number; name: string }>(client, '/crm/v2/tenant/{tenant}/customers', {
        pageSize: 50, // up to 5000 (fewer requests); 50 shows the paging on the sandbox's 120 customers
      });
      for await (const customer of customers) ids.push(customer.id); // your job: save or sync it
      return ids.length;
    };

    const started = Date.now();
    const results = await forEachAtMost(5, tenants, async ({ tenantId }) => ({
      tenantId,
      customers: await syncTenant(tenantId),
    }));
    const done = results.filter((result) => result.status === 'fulfilled').map((result) => result.value);
    for (const { tenantId, customers } of done.slice(0, 3)) console.log(`tenant ${tenantId}: ${customers} customers`);
    console.log(`… ${done.length} tenants in ${Date.now() - started} ms`);
    results.forEach((result, index) => {
      if (result.status === 'fulfilled') return;
      const problem = problemDetails(result.reason); // status, title and traceId for ServiceTitan support
      console.error(`tenant ${tenants[index]!.tenantId} failed:`, problem ?? String(result.reason));
      process.exitCode = 1;
    });
    if (sandbox) {
      console.log(
        `token requests: ${sandbox.token.count} (one per tenant), at most ${sandbox.token.maxInFlight} at once`,
      );
    }
  } finally {
    await sandbox?.close();
  }
}

/** Runs `task` on every item, at most `limit` at once; one failure does not stop the others. */
async function forEachAtMost<T, R>(
  limit: number,
  items: readonly T[],
  task: (item: T) => Promise<R>,
): Promise<PromiseSettledResult<R>[]> {
  const results: PromiseSettledResult<R>[] = new Array(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let index = next++; index < items.length; index = next++) {
      results[index] = await task(items[index]!).then(
        (value) => ({ status: 'fulfilled', value }),
        (reason: unknown) => ({ status: 'rejected', reason }),
      );
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

main().catch((error: unknown) => {
  console.error(isServiceTitanAuthError(error) ? `[${error.code}] ${error.message}` : error);
  process.exitCode = 1;
});
