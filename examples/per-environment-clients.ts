/**
 * Integration and production clients side by side. Client ids and secrets are issued per
 * environment (and per tenant), so each client has its own credentials, its own token and its
 * own API origin, and never sends its token anywhere else.
 *
 *   npx tsx examples/per-environment-clients.ts
 *     against two embedded sandboxes standing in for integration and production;
 *   ST_INTEGRATION_CLIENT_ID=… ST_INTEGRATION_CLIENT_SECRET=… ST_INTEGRATION_APP_KEY=… ST_INTEGRATION_TENANT_ID=… \
 *   ST_PRODUCTION_CLIENT_ID=…  ST_PRODUCTION_CLIENT_SECRET=…  ST_PRODUCTION_APP_KEY=…  ST_PRODUCTION_TENANT_ID=… \
 *   npx tsx examples/per-environment-clients.ts
 *     against real ServiceTitan (it only reads customers).
 */
import {
  createServiceTitanClient,
  environments,
  tokenFingerprint,
  type ServiceTitanClient,
  type ServiceTitanEnvironmentName,
} from '../src';
import { startSandbox, type Sandbox } from '../src/testing';

const names: ServiceTitanEnvironmentName[] = ['integration', 'production'];
const live = Boolean(process.env.ST_INTEGRATION_CLIENT_ID || process.env.ST_PRODUCTION_CLIENT_ID);

// Without credentials, two sandboxes play the two environments, each with its own client and tenant.
const sandboxes: Partial<Record<ServiceTitanEnvironmentName, Sandbox>> = {};
if (!live) {
  sandboxes.integration = await startSandbox({
    clients: [{ clientId: 'cid.int-demo', clientSecret: 'cs1.int-demo', tenantId: '1000' }],
  });
  sandboxes.production = await startSandbox({
    clients: [{ clientId: 'cid.prod-demo', clientSecret: 'cs1.prod-demo', tenantId: '2000' }],
  });
}

function createClient(name: ServiceTitanEnvironmentName): ServiceTitanClient {
  const sandbox = sandboxes[name];
  if (sandbox) {
    const { clientId, clientSecret, appKey, tenantId, environment } = sandbox;
    return createServiceTitanClient({ clientId, clientSecret, appKey, tenantId, environment });
  }
  const env = (key: string) => process.env[`ST_${name.toUpperCase()}_${key}`] ?? '';
  return createServiceTitanClient({
    clientId: env('CLIENT_ID'),
    clientSecret: env('CLIENT_SECRET'),
    appKey: env('APP_KEY'),
    tenantId: env('TENANT_ID'),
    environment: name, // 'integration' or 'production': the right token endpoint and API host
  });
}

const apiUrl = (name: ServiceTitanEnvironmentName) => sandboxes[name]?.apiUrl ?? environments[name].apiUrl;

try {
  const clients = { integration: createClient('integration'), production: createClient('production') };

  for (const name of names) {
    const client = clients[name];
    // `{tenant}` is filled with the client's tenantId.
    const { data, config } = await client.get('/crm/v2/tenant/{tenant}/customers', { params: { pageSize: 5 } });
    // A fingerprint tells tokens apart without showing one.
    const token = tokenFingerprint(await client.auth.getToken());
    console.log(`${name.padEnd(12)} GET ${config.url}  ${data.data.length} customers  token ${token}`);
  }

  // An absolute URL on the other environment's API goes out without token or app key.
  const foreign = `${apiUrl('production')}/crm/v2/tenant/{tenant}/customers`;
  const { status } = await clients.integration.get(foreign, { validateStatus: () => true });
  console.log(`integration client -> production API: ${status}, sent without token or app key`);

  // What the sandboxes saw: one token request each, and no credentials on the foreign call.
  for (const name of names) {
    const sandbox = sandboxes[name];
    if (!sandbox) continue;
    const withToken = sandbox.api.requests.filter((r) => r.tokenId !== undefined).length;
    console.log(
      `${name.padEnd(12)} sandbox: ${sandbox.token.count} token request, ${withToken} of ${sandbox.api.count} API calls with a token`,
    );
  }
  const foreignCall = sandboxes.production?.api.requests.at(-1);
  if (foreignCall && (foreignCall.headers.authorization !== undefined || foreignCall.appKey !== undefined)) {
    throw new Error('the integration token reached the production API');
  }
} finally {
  await Promise.all(Object.values(sandboxes).map((sandbox) => sandbox.close()));
}
