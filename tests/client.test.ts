import axios, { AxiosError } from 'axios';
import { ServiceTitanAuthError, attachServiceTitanAuth, createServiceTitanClient, environments } from '../src';
import { authOptions, customersPath, useSandbox } from './helpers/sandbox';

describe('createServiceTitanClient', () => {
  const sandbox = useSandbox();

  test("uses the environment's apiUrl as baseURL and fills {tenant}", async () => {
    const client = createServiceTitanClient({ ...authOptions(sandbox()), tenantId: sandbox().tenantId });
    expect(client.defaults.baseURL).toBe(sandbox().apiUrl);
    const { data } = await client.get('/crm/v2/tenant/{tenant}/customers', { params: { pageSize: 2 } });
    expect(data).toMatchObject({ page: 1, pageSize: 2, hasMore: true });
    expect(sandbox().api.requests[0]?.path).toBe(customersPath(sandbox()));
    expect(sandbox().api.requests[0]?.appKey).toBe(sandbox().appKey);
  });

  test('named environments get the ServiceTitan hosts', () => {
    const client = createServiceTitanClient({
      clientId: 'c',
      clientSecret: 's',
      appKey: 'k',
      environment: 'production',
    });
    expect(client.defaults.baseURL).toBe(environments.production.apiUrl);
  });

  test('a {tenant} URL on a client without tenantId rejects with invalid_config, before any request', async () => {
    const client = createServiceTitanClient(authOptions(sandbox()));
    const error = await client.get('/crm/v2/tenant/{tenant}/customers').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ServiceTitanAuthError);
    expect(error).toMatchObject({ code: 'invalid_config', message: expect.stringContaining('tenantId') });
    expect(sandbox().api.count + sandbox().token.count).toBe(0);
  });

  test('extra axios defaults apply (headers, timeout)', async () => {
    const client = createServiceTitanClient({
      ...authOptions(sandbox()),
      axios: { headers: { 'X-Integration': 'sync-worker' }, timeout: 50 },
      retry: false,
    });
    // The header on a request that must succeed: its own `timeout: 0` (none) keeps a busy
    // machine from turning it into a race against the default's 50 ms.
    await client.get(customersPath(sandbox()), { timeout: 0 });
    expect(sandbox().api.requests[0]?.headers['x-integration']).toBe('sync-worker');
    // The default timeout on a request the API never answers: only the 50 ms can end it.
    sandbox().api.enqueue({ hang: true });
    const error = (await client.get(customersPath(sandbox())).catch((e: unknown) => e)) as AxiosError;
    expect({ code: error.code, message: error.message }).toEqual({
      code: 'ECONNABORTED',
      message: 'timeout of 50ms exceeded',
    });
  });
});

describe('attachServiceTitanAuth on an existing instance', () => {
  const sandbox = useSandbox();

  test('authenticates requests of the instance, and detach() removes the interceptors', async () => {
    const instance = axios.create({ baseURL: sandbox().apiUrl });
    const auth = attachServiceTitanAuth(instance, authOptions(sandbox()));
    expect((await instance.get(customersPath(sandbox()))).status).toBe(200);

    auth.detach();
    const error = (await instance.get(customersPath(sandbox())).catch((e: unknown) => e)) as AxiosError;
    expect(error.response?.status).toBe(401);
    expect(sandbox().api.requests.map((r) => r.tokenId)).toEqual(['tok-1', undefined]);
    expect(sandbox().token.count).toBe(1);
  });

  test('two instances sharing a MemoryTokenStore share the token', async () => {
    const { MemoryTokenStore } = await import('../src');
    const store = new MemoryTokenStore();
    const a = createServiceTitanClient(authOptions(sandbox(), { store }));
    const b = createServiceTitanClient(authOptions(sandbox(), { store }));
    await a.get(customersPath(sandbox()));
    await b.get(customersPath(sandbox()));
    expect(sandbox().token.count).toBe(1);
    expect(sandbox().tokensSeen).toEqual(['tok-1']);
  });
});

describe('sandbox.clientOptions', () => {
  const sandbox = useSandbox();

  test('spreads into createServiceTitanClient as a working configuration', async () => {
    expect(sandbox().clientOptions).toEqual({
      clientId: sandbox().clientId,
      clientSecret: sandbox().clientSecret,
      appKey: sandbox().appKey,
      environment: sandbox().environment,
      tenantId: sandbox().tenantId,
    });
    const client = createServiceTitanClient({ ...sandbox().clientOptions });
    expect((await client.get('/crm/v2/tenant/{tenant}/customers')).status).toBe(200);
    expect(sandbox().api.requests[0]).toMatchObject({ tokenId: 'tok-1', appKey: sandbox().appKey });
  });
});
