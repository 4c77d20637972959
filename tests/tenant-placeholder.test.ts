import axios from 'axios';
import {
  attachServiceTitanAuth,
  clientOptionsFromEnv,
  createServiceTitanClient,
  ServiceTitanAuthError,
  type ServiceTitanAuthError as AuthError,
} from '../src';
import { sandboxEnvironment } from '../src/cli/sandbox';
import { authOptions, customersPath, useSandbox } from './helpers/sandbox';

async function rejection(request: Promise<unknown>): Promise<AuthError> {
  const error = await request.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ServiceTitanAuthError);
  return error as AuthError;
}

describe('{tenant} everywhere or nowhere (issue 19 item 4)', () => {
  const sandbox = useSandbox();

  test('an attached instance fills {tenant} from tenantId, as clientOptionsFromEnv gives it', async () => {
    const s = sandbox();
    const instance = axios.create({ baseURL: s.apiUrl });
    // What a user of clientOptionsFromEnv passes as it comes: tenantId included.
    attachServiceTitanAuth(instance, clientOptionsFromEnv({ env: sandboxEnvironment(s), requireTenantId: true }));
    const { data } = await instance.get<{ data: unknown[] }>('/crm/v2/tenant/{tenant}/customers');
    expect(data.data.length).toBeGreaterThan(0);
    // A number works too, and every occurrence is filled.
    const other = axios.create({ baseURL: s.apiUrl });
    attachServiceTitanAuth(other, { ...authOptions(s), tenantId: Number(s.tenantId) });
    await other.get('/crm/v2/tenant/{tenant}/customers', { params: { note: '{tenant}' } });
    expect(s.api.requests.map((r) => [r.path, r.status, r.tokenId !== undefined])).toEqual([
      [customersPath(s), 200, true],
      [customersPath(s), 200, true],
    ]);
  });

  test('without tenantId, a {tenant} URL fails before it is sent: the server counts 0 requests', async () => {
    const s = sandbox();
    const instance = axios.create({ baseURL: s.apiUrl });
    attachServiceTitanAuth(instance, authOptions(s));
    const error = await rejection(instance.get('/crm/v2/tenant/{tenant}/customers?secret-ish=1'));
    expect(error.code).toBe('invalid_config');
    expect(error.message).toBe(
      'The URL /crm/v2/tenant/{tenant}/customers contains {tenant} but no tenantId was given: ' +
        'pass tenantId to createServiceTitanClient or attachServiceTitanAuth (or put the tenant id in the URL)',
    );
    expect(s.api.count + s.token.count).toBe(0);
    // The client says the same thing the same way: one implementation.
    const client = createServiceTitanClient(authOptions(s));
    expect((await rejection(client.get('/crm/v2/tenant/{tenant}/customers'))).message).toBe(error.message);
    expect(s.api.count + s.token.count).toBe(0);
    // URLs without the placeholder go out as before.
    expect((await instance.get(customersPath(s))).status).toBe(200);
  });

  test('a bad tenantId is invalid_config at attach time, naming the option', () => {
    for (const tenantId of [0, -1, 1.5, '12a', '', 'cs1.secret-looking']) {
      let thrown: unknown;
      try {
        attachServiceTitanAuth(axios.create(), { ...authOptions(sandbox()), tenantId });
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(ServiceTitanAuthError);
      expect(thrown).toMatchObject({ code: 'invalid_config', message: expect.stringMatching(/^tenantId must be/) });
      expect((thrown as Error).message).not.toContain('secret-looking');
    }
  });

  test('detach() removes the filling with the rest; attaching again installs it once', async () => {
    const s = sandbox();
    const instance = axios.create({ baseURL: s.apiUrl });
    const first = attachServiceTitanAuth(instance, { ...authOptions(s), tenantId: s.tenantId });
    first.detach();
    // Detached: nothing fills {tenant} any more, and no token goes out.
    await instance.get('/crm/v2/tenant/{tenant}/customers', { validateStatus: () => true });
    expect(s.api.requests[0]?.status).toBe(401);
    expect(s.api.requests[0]?.tokenId).toBeUndefined();
    expect(s.api.requests[0]?.path).not.toBe(customersPath(s));
    attachServiceTitanAuth(instance, { ...authOptions(s), tenantId: s.tenantId });
    expect((await instance.get('/crm/v2/tenant/{tenant}/customers')).status).toBe(200);
    expect(s.api.requests.map((r) => r.path)).toEqual([s.api.requests[0]!.path, customersPath(s)]);
  });
});
