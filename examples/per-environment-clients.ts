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
 *     against real ServiceTitan (it only reads customers). Each set is read by
 *     clientOptionsFromEnv with its prefix, so ST_INTEGRATION_AUTH_URL / …_API_URL work too.
 */
import {
  clientOptionsFromEnv,
  createServiceTitanClient,
  environments,
  tokenFingerprint,
  type ServiceTitanClient,
  type ServiceTitanClientOptions,
  type ServiceTitanEnvironmentName,
} from 'axios-servicetitan-auth';
import { startSandbox, type Sandbox } from 'axios-servicetitan-auth/testing';

const names: ServiceTitanEnvironmentName[] = ['integration', 'production'];
// Each environment's ST_<NAME>_* variables, when any of them is set.
const fromEnv = Object.fromEntries(
  names.map((name) => [
    name,
    clientOptionsFromEnv({
      // The prefix names the environment (ST_PRODUCTION_* means production): the right token
      // endpoint and API host without ST_PRODUCTION_ENVIRONMENT, and a contradicting one is an error.
      prefix: `ST_${name.toUpperCase()}_`,
      optional: true,
      requireTenantId: true,
    }),
  ]),
) as Record<ServiceTitanEnvironmentName, ServiceTitanClientOptions | undefined>;
const live = names.some((name) => fromEnv[name] !== undefined);

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
  const options = sandboxes[name]?.clientOptions ?? fromEnv[name];
  if (options === undefined) throw new Error(`set the ST_${name.toUpperCase()}_* variables too (or none at all)`);
  return createServiceTitanClient(options);
}

function apiUrl(name: ServiceTitanEnvironmentName): string {
  const environment = sandboxes[name]?.environment ?? fromEnv[name]?.environment ?? name;
  return typeof environment === 'string' ? environments[environment].apiUrl : environment.apiUrl;
}

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
