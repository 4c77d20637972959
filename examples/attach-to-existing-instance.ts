/**
 * Adding ServiceTitan auth to an axios instance you already have, with its own base URL and
 * interceptors, and telling the library's errors apart.
 *
 *   npx tsx examples/attach-to-existing-instance.ts
 *     against an embedded sandbox (a local ServiceTitan emulator);
 *   ST_CLIENT_ID=… ST_CLIENT_SECRET=… ST_APP_KEY=… ST_TENANT_ID=… ST_ENVIRONMENT=integration|production npx tsx examples/attach-to-existing-instance.ts
 *     against real ServiceTitan (the ST_ENVIRONMENT you name), or against `npx axios-servicetitan-auth sandbox`
 *     with the ST_* lines it prints (they include ST_AUTH_URL and ST_API_URL).
 */
import { randomUUID } from 'node:crypto';
import axios, { type InternalAxiosRequestConfig } from 'axios';
import {
  attachServiceTitanAuth,
  clientOptionsFromEnv,
  environments,
  isServiceTitanAuthError,
} from 'axios-servicetitan-auth';
import { startSandbox } from 'axios-servicetitan-auth/testing';

// Where to connect: the ST_* variables when they are set, an embedded sandbox otherwise.
const fromEnv = clientOptionsFromEnv({ optional: true, requireTenantId: true });
const sandbox = fromEnv ? undefined : await startSandbox();
const settings = fromEnv ?? sandbox!.clientOptions;
const { environment } = settings;
const apiUrl = typeof environment === 'string' ? environments[environment].apiUrl : environment.apiUrl;

// The instance your application already has: its own base URL, headers and interceptors.
const crm = axios.create({
  baseURL: `${apiUrl}/crm/v2/tenant/${settings.tenantId}`,
  timeout: 30_000,
  headers: { 'User-Agent': 'acme-sync/1.0' },
});
const startedAt = new WeakMap<InternalAxiosRequestConfig, number>();
crm.interceptors.request.use((config) => {
  config.headers.set('X-Request-Id', randomUUID());
  startedAt.set(config, performance.now());
  return config;
});
const logTiming = (config: InternalAxiosRequestConfig, outcome: unknown) => {
  const ms = Math.round(performance.now() - (startedAt.get(config) ?? performance.now()));
  console.log(`${config.method?.toUpperCase()} ${config.url} -> ${String(outcome)} in ${ms} ms`);
};
crm.interceptors.response.use(
  (response) => {
    logTiming(response.config, response.status);
    return response;
  },
  (error: unknown) => {
    if (axios.isAxiosError(error) && error.config) logTiming(error.config, error.response?.status ?? error.code);
    return Promise.reject(error);
  },
);

try {
  // One line adds the token (cached, renewed ahead of expiry, renewed and replayed once on 401)
  // and the ST-App-Key header. The token request itself never goes through your interceptors.
  attachServiceTitanAuth(crm, {
    clientId: settings.clientId,
    clientSecret: settings.clientSecret,
    appKey: settings.appKey,
    environment,
  });

  const { data } = await crm.get<{ data: { id: number; name: string }[]; hasMore: boolean }>('/customers', {
    params: { pageSize: 5 },
  });
  for (const customer of data.data) console.log(`  ${String(customer.id).padStart(6)}  ${customer.name}`);
  console.log(`  (more: ${data.hasMore})`);
} catch (error) {
  if (!isServiceTitanAuthError(error)) throw error; // an API error: an AxiosError with status and body
  switch (error.code) {
    case 'invalid_client':
      console.error('ServiceTitan rejected the client id / secret: check them for this environment.');
      break;
    case 'rate_limited':
      console.error(`The token endpoint is rate limiting this client: try again in ${error.retryAfterMs ?? '?'} ms.`);
      break;
    case 'token_request_failed':
    case 'invalid_token_response':
      console.error(`Could not get a token (${error.message}); a later request will try again.`);
      break;
    case 'invalid_config':
      console.error(`Bad configuration: ${error.message}`);
      break;
  }
  process.exitCode = 1;
} finally {
  await sandbox?.close();
}
