import { Agent, request as httpRequest, type IncomingMessage } from 'node:http';
import { startSandbox, type Sandbox, type SandboxOptions } from '../../src/testing';

// Plain fetch / node:http only: the sandbox is tested independently of the library and axios.

const open: Sandbox[] = [];

async function sandboxWith(options?: SandboxOptions): Promise<Sandbox> {
  const sandbox = await startSandbox(options);
  open.push(sandbox);
  return sandbox;
}

afterEach(async () => {
  jest.restoreAllMocks();
  await Promise.all(open.splice(0).map((s) => s.close()));
});

function tokenRequest(sandbox: Sandbox, fields: Record<string, string>, init: RequestInit = {}): Promise<Response> {
  return fetch(sandbox.authUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(fields).toString(),
    ...init,
  });
}

function goodForm(sandbox: Sandbox): Record<string, string> {
  return {
    grant_type: 'client_credentials',
    client_id: sandbox.clientId,
    client_secret: sandbox.clientSecret,
  };
}

async function getToken(sandbox: Sandbox): Promise<string> {
  const res = await tokenRequest(sandbox, goodForm(sandbox));
  expect(res.status).toBe(200);
  return ((await res.json()) as { access_token: string }).access_token;
}

function decodePart(jwt: string, index: number): Record<string, unknown> {
  return JSON.parse(Buffer.from(jwt.split('.')[index] ?? '', 'base64url').toString('utf8')) as Record<string, unknown>;
}

interface CallOptions {
  token?: string | undefined;
  appKey?: string | undefined;
  method?: string;
  body?: string;
  headers?: Record<string, string>;
}

function callApi(sandbox: Sandbox, path: string, options: CallOptions = {}): Promise<Response> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token !== undefined) headers['authorization'] = `Bearer ${options.token}`;
  const appKey = 'appKey' in options ? options.appKey : sandbox.appKey;
  if (appKey !== undefined) headers['st-app-key'] = appKey;
  return fetch(`${sandbox.apiUrl}${path}`, {
    method: options.method ?? 'GET',
    headers,
    ...(options.body !== undefined ? { body: options.body } : {}),
    redirect: 'manual',
  });
}

async function json<T = Record<string, unknown>>(res: Response): Promise<T> {
  return (await res.json()) as T;
}

function expectProblem(body: Record<string, unknown>, status: number): void {
  expect(body).toEqual({
    type: expect.any(String),
    title: expect.any(String),
    status,
    traceId: expect.stringMatching(/^[0-9a-f]{32}$/),
    errors: expect.any(Object),
    data: {},
  });
}

const customersPath = (tenant: string): string => `/crm/v2/tenant/${tenant}/customers`;

describe('startSandbox', () => {
  it('listens on two loopback origins with generated credentials', async () => {
    const sandbox = await sandboxWith();
    expect(sandbox.authUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/connect\/token$/);
    expect(sandbox.apiUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(new URL(sandbox.authUrl).origin).not.toBe(sandbox.apiUrl);
    expect(sandbox.environment).toEqual({ authUrl: sandbox.authUrl, apiUrl: sandbox.apiUrl });
    expect(sandbox.clientId).toMatch(/^cid\.sandbox[0-9a-f]+$/);
    expect(sandbox.clientSecret).toMatch(/^cs1\.[0-9a-f]+$/);
    expect(sandbox.appKey).toMatch(/^ak1\.[0-9a-f]+$/);
    expect(sandbox.tenantId).toBe('1000');
    const other = await sandboxWith();
    expect(other.clientSecret).not.toBe(sandbox.clientSecret);
  });

  it('rejects bad options, naming the option', async () => {
    await expect(startSandbox({ apiPort: -1 })).rejects.toThrow(/apiPort/);
    await expect(startSandbox({ clients: [] })).rejects.toThrow(/clients/);
    await expect(startSandbox({ tokenErrorStyle: 'xml' as never })).rejects.toThrow(/tokenErrorStyle/);
  });

  // Issue 19 item 8: the lifetime is given in ms like every duration; expires_in stays whole seconds.
  it('tokenLifetimeMs and the deprecated tokenLifetimeSeconds give the same expires_in', async () => {
    for (const options of [{ tokenLifetimeMs: 7_000 }, { tokenLifetimeSeconds: 7 }]) {
      const sandbox = await sandboxWith(options);
      const body = await json(await tokenRequest(sandbox, goodForm(sandbox)));
      expect(body['expires_in']).toBe(7);
      const claims = decodePart(body['access_token'] as string, 1);
      expect((claims['exp'] as number) - (claims['iat'] as number)).toBe(7);
    }
  });

  it('refuses a tokenLifetimeMs the wire cannot carry, or both names at once', async () => {
    for (const bad of [1_500, -1_000, Number.NaN]) {
      await expect(sandboxWith({ tokenLifetimeMs: bad })).rejects.toThrow(
        /^SandboxOptions\.tokenLifetimeMs must be a whole number of seconds in ms/,
      );
    }
    await expect(sandboxWith({ tokenLifetimeSeconds: 1.5 })).rejects.toThrow(
      /^SandboxOptions\.tokenLifetimeSeconds must be an integer/,
    );
    await expect(sandboxWith({ tokenLifetimeMs: 7_000, tokenLifetimeSeconds: 7 })).rejects.toThrow(
      'SandboxOptions.tokenLifetimeSeconds and SandboxOptions.tokenLifetimeMs are the same option (tokenLifetimeSeconds is deprecated): set only tokenLifetimeMs',
    );
  });
});

describe('token endpoint', () => {
  it('issues numbered at+jwt tokens with ServiceTitan claims, expiry from Date.now()', async () => {
    const sandbox = await sandboxWith({ tokenLifetimeMs: 900_000 });
    const now = Date.UTC(2031, 0, 1, 12);
    jest.spyOn(Date, 'now').mockReturnValue(now);
    const res = await tokenRequest(sandbox, goodForm(sandbox));
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const body = await json(res);
    expect(body).toEqual({
      access_token: expect.any(String),
      expires_in: 900,
      token_type: 'Bearer',
      scope: 'tn.crm.customers:r tn.jpm.jobs:r',
    });
    const jwt = body['access_token'] as string;
    expect(decodePart(jwt, 0)).toEqual({ alg: 'HS256', typ: 'at+jwt', kid: 'sandbox' });
    expect(decodePart(jwt, 1)).toEqual({
      iss: new URL(sandbox.authUrl).origin,
      client_id: sandbox.clientId,
      tenant: '1000',
      scope: 'tn.crm.customers:r tn.jpm.jobs:r',
      iat: now / 1000,
      nbf: now / 1000,
      exp: now / 1000 + 900,
      jti: 'tok-1',
    });
  });

  it('mints distinct tokens within the same second', async () => {
    const sandbox = await sandboxWith();
    jest.spyOn(Date, 'now').mockReturnValue(Date.UTC(2031, 0, 1));
    const [a, b] = await Promise.all([getToken(sandbox), getToken(sandbox)]);
    expect(a).not.toBe(b);
    expect([decodePart(a, 1)['jti'], decodePart(b, 1)['jti']].sort()).toEqual(['tok-1', 'tok-2']);
    expect(sandbox.tokensIssued).toBe(2);
  });

  it('issues each client a token for its own tenant', async () => {
    const clients = [
      { clientId: 'a', clientSecret: 'sa', tenantId: '1' },
      { clientId: 'b', clientSecret: 'sb', tenantId: '2' },
    ];
    const sandbox = await sandboxWith({ clients });
    expect(sandbox.clients).toEqual(clients);
    const res = await tokenRequest(sandbox, {
      grant_type: 'client_credentials',
      client_id: 'b',
      client_secret: 'sb',
    });
    expect(decodePart((await json(res))['access_token'] as string, 1)['tenant']).toBe('2');
  });

  it.each([
    ['a wrong secret', { client_secret: 'nope' }, 'invalid_client'],
    ['an unknown client', { client_id: 'someone-else' }, 'invalid_client'],
    ['no client id', { client_id: '' }, 'invalid_client'],
    ['another grant type', { grant_type: 'password' }, 'unsupported_grant_type'],
    ['no grant type', { grant_type: '' }, 'unsupported_grant_type'],
  ])('answers %s with 400 {"error":"%s"}', async (_name, change, error) => {
    const sandbox = await sandboxWith();
    const res = await tokenRequest(sandbox, { ...goodForm(sandbox), ...change });
    expect(res.status).toBe(400);
    expect(await json(res)).toEqual({ error });
    expect(sandbox.tokensIssued).toBe(0);
  });

  it('accepts only client_secret_post: HTTP Basic client auth is invalid_client', async () => {
    const sandbox = await sandboxWith();
    const basic = Buffer.from(`${sandbox.clientId}:${sandbox.clientSecret}`).toString('base64');
    const res = await tokenRequest(
      sandbox,
      { grant_type: 'client_credentials' },
      {
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          authorization: `Basic ${basic}`,
        },
      },
    );
    expect(res.status).toBe(400);
    expect(await json(res)).toEqual({ error: 'invalid_client' });
    expect(JSON.stringify(sandbox.token.requests)).not.toContain(basic);
  });

  it('requires a form body, POST and the /connect/token path', async () => {
    const sandbox = await sandboxWith();
    const asJson = await fetch(sandbox.authUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(goodForm(sandbox)),
    });
    expect(asJson.status).toBe(400);
    expect(await json(asJson)).toEqual({ error: 'invalid_request' });
    const get = await fetch(sandbox.authUrl);
    expect(get.status).toBe(405);
    expect(get.headers.get('allow')).toBe('POST');
    const notFound = await fetch(new URL('/connect/other', sandbox.authUrl), { method: 'POST' });
    expect(notFound.status).toBe(404);
  });

  it('answers RFC 7807 problems with tokenErrorStyle "problem"', async () => {
    const sandbox = await sandboxWith({ tokenErrorStyle: 'problem' });
    const res = await tokenRequest(sandbox, { ...goodForm(sandbox), client_secret: 'wrong' });
    expect(res.status).toBe(400);
    expectProblem(await json(res), 400);
  });

  it('logs client id and grant type, never the secret', async () => {
    const sandbox = await sandboxWith();
    await getToken(sandbox);
    expect(sandbox.token.count).toBe(1);
    expect(sandbox.token.requests[0]).toMatchObject({
      endpoint: 'token',
      method: 'POST',
      path: '/connect/token',
      clientId: sandbox.clientId,
      grantType: 'client_credentials',
      status: 200,
    });
    expect(JSON.stringify(sandbox.token.requests)).not.toContain(sandbox.clientSecret);
  });
});

describe('API authentication', () => {
  it('serves a call with a valid token and app key', async () => {
    const sandbox = await sandboxWith();
    const token = await getToken(sandbox);
    const res = await callApi(sandbox, customersPath('1000'), { token });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  });

  it('refuses a missing, malformed or foreign token with 401 invalid_token', async () => {
    const sandbox = await sandboxWith();
    const foreign = await getToken(await sandboxWith());
    for (const token of [undefined, 'not-a-jwt', 'a.b.c', foreign]) {
      const res = await callApi(sandbox, customersPath('1000'), { token });
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toBe('Bearer error="invalid_token"');
      expectProblem(await json(res), 401);
    }
  });

  it('refuses an expired token, judged by Date.now()', async () => {
    const sandbox = await sandboxWith();
    const token = await getToken(sandbox);
    const now = Date.now();
    const clock = jest.spyOn(Date, 'now').mockReturnValue(now + 899_000);
    expect((await callApi(sandbox, customersPath('1000'), { token })).status).toBe(200);
    clock.mockReturnValue(now + 901_000);
    const res = await callApi(sandbox, customersPath('1000'), { token });
    expect(res.status).toBe(401);
    expect((await json(res))['title']).toMatch(/expired/);
  });

  it('refuses revoked tokens: all so far, or one by id or raw token', async () => {
    const sandbox = await sandboxWith();
    const [t1, t2] = [await getToken(sandbox), await getToken(sandbox)];
    sandbox.revokeAllTokens();
    const t3 = await getToken(sandbox);
    expect((await callApi(sandbox, customersPath('1000'), { token: t1 })).status).toBe(401);
    expect((await callApi(sandbox, customersPath('1000'), { token: t2 })).status).toBe(401);
    expect((await callApi(sandbox, customersPath('1000'), { token: t3 })).status).toBe(200);
    sandbox.revokeToken(t3);
    expect((await callApi(sandbox, customersPath('1000'), { token: t3 })).status).toBe(401);
    const t4 = await getToken(sandbox);
    sandbox.revokeToken('tok-4');
    expect((await callApi(sandbox, customersPath('1000'), { token: t4 })).status).toBe(401);
  });

  it('requires the app key (header or query), without a bearer challenge', async () => {
    const sandbox = await sandboxWith();
    const token = await getToken(sandbox);
    for (const appKey of [undefined, 'ak1.wrong']) {
      const res = await callApi(sandbox, customersPath('1000'), { token, appKey });
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toBeNull();
      expect((await json(res))['title']).toMatch(/app(lication)? key/i);
    }
    const viaQuery = `${customersPath('1000')}?servicetitanapplicationkey=${sandbox.appKey}`;
    expect((await callApi(sandbox, viaQuery, { token, appKey: undefined })).status).toBe(200);
  });

  it('does without the app key when requireAppKey is false', async () => {
    const sandbox = await sandboxWith({ requireAppKey: false });
    const token = await getToken(sandbox);
    expect((await callApi(sandbox, customersPath('1000'), { token, appKey: undefined })).status).toBe(200);
  });

  it('answers empty 401 bodies with unauthorizedBody "empty"', async () => {
    const sandbox = await sandboxWith({ unauthorizedBody: 'empty' });
    const res = await callApi(sandbox, customersPath('1000'), { token: 'x.y.z' });
    expect(res.status).toBe(401);
    expect(await res.text()).toBe('');
  });

  it('forbids another tenant (403) and answers 404 problems for unknown paths', async () => {
    const sandbox = await sandboxWith();
    const token = await getToken(sandbox);
    const other = await callApi(sandbox, customersPath('2000'), { token });
    expect(other.status).toBe(403);
    expectProblem(await json(other), 403);
    for (const path of ['/crm/v2/tenant/1000/nothing', '/elsewhere', '/crm/v9/tenant/1000/customers']) {
      const res = await callApi(sandbox, path, { token });
      expect(res.status).toBe(404);
      expectProblem(await json(res), 404);
    }
  });
});

interface PageBody {
  page: number;
  pageSize: number;
  hasMore: boolean;
  totalCount: number | null;
  data: { id: number }[];
}

interface ExportBody {
  hasMore: boolean;
  continueFrom: string;
  data: { id: number }[];
}

describe('API routes', () => {
  let sandbox: Sandbox;
  let token: string;
  const get = (path: string): Promise<Response> => callApi(sandbox, path, { token });

  beforeEach(async () => {
    sandbox = await sandboxWith();
    token = await getToken(sandbox);
  });

  it('pages through the customers', async () => {
    const first = await json<PageBody>(await get(customersPath('1000')));
    expect(first).toMatchObject({ page: 1, pageSize: 50, hasMore: true, totalCount: null });
    expect(first.data.map((c) => c.id)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    // Every property of the published CustomerResponse (tests/testing/contract.test.ts checks the types).
    expect(first.data[0]).toEqual({
      id: 1,
      active: true,
      name: expect.any(String),
      type: 'Residential',
      address: expect.objectContaining({ street: expect.any(String), country: 'USA' }),
      customFields: [],
      balance: 0,
      taxExempt: false,
      tagTypeIds: [],
      doNotMail: false,
      doNotService: false,
      nationalAccount: false,
      createdOn: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      createdById: expect.any(Number),
      modifiedOn: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      mergedToId: null,
      paymentTermId: null,
      creditLimit: null,
      creditLimitBalance: null,
      externalData: [],
    });
    const last = await json<PageBody>(await get(`${customersPath('1000')}?page=3&pageSize=50&includeTotal=true`));
    expect(last).toMatchObject({ page: 3, hasMore: false, totalCount: 120 });
    expect(last.data.map((c) => c.id)).toEqual(Array.from({ length: 20 }, (_, i) => i + 101));
    const all = await json<PageBody>(await get(`${customersPath('1000')}?pageSize=5000`));
    expect(all.data).toHaveLength(120);
  });

  it.each(['5001', '0', 'abc'])('refuses pageSize=%s with a validation problem', async (pageSize) => {
    const res = await get(`${customersPath('1000')}?pageSize=${pageSize}`);
    expect(res.status).toBe(400);
    const body = await json(res);
    expectProblem(body, 400);
    expect(body['errors']).toEqual({ pageSize: [expect.any(String)] });
  });

  it('serves one customer, the same in every sandbox, or a 404 problem', async () => {
    const res = await get(`${customersPath('1000')}/7`);
    const customer = await json(res);
    expect(customer).toMatchObject({ id: 7, active: true, address: { city: expect.any(String) } });
    const other = await sandboxWith();
    const again = await callApi(other, `${customersPath('1000')}/7`, {
      token: await getToken(other),
    });
    expect(await json(again)).toEqual(customer);
    const missing = await get(`${customersPath('1000')}/121`);
    expect(missing.status).toBe(404);
    expectProblem(await json(missing), 404);
  });

  it('serves the export feed in batches with resumable continueFrom', async () => {
    const path = '/crm/v2/tenant/1000/export/customers';
    const ids: number[] = [];
    const sizes: number[] = [];
    let batch = await json<ExportBody>(await get(path));
    for (;;) {
      ids.push(...batch.data.map((c) => c.id));
      sizes.push(batch.data.length);
      expect(typeof batch.continueFrom).toBe('string');
      if (!batch.hasMore) break;
      batch = await json<ExportBody>(await get(`${path}?from=${encodeURIComponent(batch.continueFrom)}`));
    }
    expect(sizes).toEqual([50, 50, 20]);
    expect(ids).toEqual(Array.from({ length: 120 }, (_, i) => i + 1));
    const resumed = await json<ExportBody>(await get(`${path}?from=${encodeURIComponent(batch.continueFrom)}`));
    expect(resumed).toEqual({ hasMore: false, continueFrom: expect.any(String), data: [] });
    const fromDate = await json<ExportBody>(await get(`${path}?from=2020-01-01T00:00:00Z`));
    expect(fromDate.data[0]?.id).toBe(1);
    const bad = await get(`${path}?from=nonsense`);
    expect(bad.status).toBe(400);
  });

  it('honours exportBatchSize and customerCount', async () => {
    const small = await sandboxWith({ exportBatchSize: 7, customerCount: 10 });
    const res = await callApi(small, '/crm/v2/tenant/1000/export/customers', {
      token: await getToken(small),
    });
    const batch = await json<ExportBody>(res);
    expect(batch.hasMore).toBe(true);
    expect(batch.data.map((c) => c.id)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    const page = await callApi(small, `${customersPath('1000')}?includeTotal=true`, {
      token: await getToken(small),
    });
    expect(await json(page)).toMatchObject({ hasMore: false, totalCount: 10 });
  });

  it('serves telecom v3 calls as a paged list', async () => {
    const calls = await json<PageBody>(await get('/telecom/v3/tenant/1000/calls?pageSize=10&includeTotal=true'));
    expect(calls).toMatchObject({ page: 1, pageSize: 10, hasMore: true, totalCount: 30 });
    expect(calls.data).toHaveLength(10);
  });

  it('echoes any method with its body', async () => {
    const post = await callApi(sandbox, '/sandbox/v1/tenant/1000/echo/things?x=1', {
      token,
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ a: 1 }),
    });
    expect(await json(post)).toMatchObject({
      method: 'POST',
      path: '/sandbox/v1/tenant/1000/echo/things',
      query: { x: '1' },
      tokenId: 'tok-1',
      appKey: true,
      body: { a: 1 },
    });
    const put = await callApi(sandbox, '/sandbox/v1/tenant/1000/echo', {
      token,
      method: 'PUT',
      body: 'plain',
    });
    expect(await json(put)).toMatchObject({ method: 'PUT', body: 'plain' });
  });

  it('records token ids and app keys, never raw tokens', async () => {
    const foreign = await getToken(await sandboxWith());
    await get(customersPath('1000'));
    await callApi(sandbox, customersPath('1000'), { token: 'garbage' });
    await callApi(sandbox, customersPath('1000'), { token: foreign });
    const [ok, malformed, forged] = sandbox.api.requests;
    expect(ok).toMatchObject({
      endpoint: 'api',
      tokenId: 'tok-1',
      appKey: sandbox.appKey,
      status: 200,
    });
    expect(ok?.headers['authorization']).toBe('Bearer tok-1');
    expect(malformed?.headers['authorization']).toBe('Bearer <malformed>');
    expect(malformed?.tokenId).toBeUndefined();
    expect(forged).toMatchObject({ tokenId: 'tok-1', status: 401 });
    expect(JSON.stringify(sandbox.api.requests)).not.toContain(token.split('.')[2]);
    expect(sandbox.tokensSeen).toEqual(['tok-1']);
    await callApi(sandbox, customersPath('1000'), { token: await getToken(sandbox) });
    expect(sandbox.tokensSeen).toEqual(['tok-1', 'tok-2']);
  });
});

describe('fault injection', () => {
  it('answers a scripted status before checking credentials, once, then normally', async () => {
    const sandbox = await sandboxWith();
    sandbox.token.enqueue({ status: 503 });
    expect(sandbox.token.pendingFaults).toBe(1);
    const faulted = await tokenRequest(sandbox, { grant_type: 'nonsense' });
    expect(faulted.status).toBe(503);
    expect(await json(faulted)).toEqual({ error: 'temporarily_unavailable' });
    expect(sandbox.token.pendingFaults).toBe(0);
    expect((await tokenRequest(sandbox, goodForm(sandbox))).status).toBe(200);
    sandbox.api.enqueue({ status: 500 });
    const api = await callApi(sandbox, '/anything');
    expect(api.status).toBe(500);
    expectProblem(await json(api), 500);
  });

  it('serves faults FIFO to the requests they match, `times` times', async () => {
    const sandbox = await sandboxWith();
    const token = await getToken(sandbox);
    sandbox.api.enqueue(
      { status: 502, times: 2, match: (r) => r.path.endsWith('/calls') },
      { status: 504 },
      { status: 418 },
    );
    expect(sandbox.api.pendingFaults).toBe(4);
    expect((await callApi(sandbox, customersPath('1000'), { token })).status).toBe(504);
    expect((await callApi(sandbox, '/telecom/v3/tenant/1000/calls', { token })).status).toBe(502);
    expect((await callApi(sandbox, '/telecom/v3/tenant/1000/calls', { token })).status).toBe(502);
    expect((await callApi(sandbox, '/telecom/v3/tenant/1000/calls', { token })).status).toBe(418);
    expect((await callApi(sandbox, '/telecom/v3/tenant/1000/calls', { token })).status).toBe(200);
    expect(sandbox.api.pendingFaults).toBe(0);
  });

  it('sends raw bodies with their content type and extra headers', async () => {
    const sandbox = await sandboxWith();
    sandbox.token.enqueue(
      { status: 502, body: '<html>bad gateway</html>', headers: { 'x-edge': 'yes' } },
      { status: 200, body: '{"access_token":', contentType: 'application/json' },
      { status: 200, body: { access_token: 42 } },
    );
    const html = await tokenRequest(sandbox, goodForm(sandbox));
    expect(html.headers.get('content-type')).toMatch(/^text\/html/);
    expect(html.headers.get('x-edge')).toBe('yes');
    expect(await html.text()).toBe('<html>bad gateway</html>');
    const broken = await tokenRequest(sandbox, goodForm(sandbox));
    expect(broken.headers.get('content-type')).toBe('application/json');
    expect(await broken.text()).toBe('{"access_token":');
    expect(await json(await tokenRequest(sandbox, goodForm(sandbox)))).toEqual({
      access_token: 42,
    });
    expect(sandbox.tokensIssued).toBe(0);
  });

  it('sets Retry-After on 429 per fault or per retryAfterStyle', async () => {
    const sandbox = await sandboxWith();
    const date = new Date(Date.UTC(2031, 0, 1));
    sandbox.token.enqueue({ status: 429 }, { status: 429, retryAfterMs: 7_000 }, { status: 429, retryAfterDate: date });
    sandbox.token.enqueue({ status: 429, retryAfterMs: 'absent' }, { status: 503, retryAfterMs: 3_000 });
    const retryAfters: (string | null)[] = [];
    for (let i = 0; i < 5; i += 1) {
      retryAfters.push((await tokenRequest(sandbox, goodForm(sandbox))).headers.get('retry-after'));
    }
    expect(retryAfters).toEqual(['1', '7', date.toUTCString(), null, '3']);

    const dated = await sandboxWith({ retryAfterStyle: 'http-date' });
    dated.api.enqueue({ status: 429 });
    const res = await callApi(dated, '/x');
    const when = Date.parse(res.headers.get('retry-after') ?? '');
    expect(when).toBeGreaterThan(Date.now() - 2000);
    expect(when).toBeLessThan(Date.now() + 3000);
    const absent = await sandboxWith({ retryAfterStyle: 'absent' });
    absent.api.enqueue({ status: 429 });
    expect((await callApi(absent, '/x')).headers.get('retry-after')).toBeNull();
  });

  // Issue 19 item 8: the deprecated `retryAfter` sends what `retryAfterMs` / `retryAfterDate` send.
  it('Fault.retryAfter (deprecated) sends the same Retry-After as retryAfterMs and retryAfterDate', async () => {
    const sandbox = await sandboxWith();
    const date = new Date(Date.UTC(2031, 0, 1));
    sandbox.token.enqueue(
      { status: 429, retryAfter: 7 },
      { status: 429, retryAfterMs: 7_000 },
      { status: 429, retryAfter: date },
      { status: 429, retryAfterDate: date },
      { status: 429, retryAfter: 'absent' },
      { status: 429, retryAfterMs: 'absent' },
    );
    const retryAfters: (string | null)[] = [];
    for (let i = 0; i < 6; i += 1) {
      retryAfters.push((await tokenRequest(sandbox, goodForm(sandbox))).headers.get('retry-after'));
    }
    expect(retryAfters).toEqual(['7', '7', date.toUTCString(), date.toUTCString(), null, null]);
  });

  it('refuses a Retry-After that the wire cannot carry, or given twice, naming the fault field', async () => {
    const sandbox = await sandboxWith();
    for (const bad of [1_500, -1_000, Number.NaN, Infinity, '2000' as never]) {
      expect(() => sandbox.token.enqueue({ status: 429, retryAfterMs: bad })).toThrow(
        /^Fault\.retryAfterMs must be a whole number of seconds in ms \(a multiple of 1000, >= 0/,
      );
    }
    expect(() => sandbox.token.enqueue({ status: 429, retryAfterDate: new Date(Number.NaN) })).toThrow(
      /^Fault\.retryAfterDate must be a valid Date/,
    );
    expect(() => sandbox.token.enqueue({ status: 429, retryAfterMs: 1_000, retryAfter: 1 })).toThrow(
      'Fault.retryAfterMs and Fault.retryAfter are one setting (the Retry-After header): give one',
    );
    expect(() => sandbox.token.enqueue({ status: 429, retryAfterMs: 1_000, retryAfterDate: new Date() })).toThrow(
      /Fault\.retryAfterMs and Fault\.retryAfterDate/,
    );
    expect(sandbox.token.pendingFaults).toBe(0);
  });

  it('delays, then answers normally when the fault has no status', async () => {
    const sandbox = await sandboxWith();
    sandbox.token.enqueue({ delayMs: 150 });
    const started = Date.now();
    const res = await tokenRequest(sandbox, goodForm(sandbox));
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    expect(res.status).toBe(200);
    expect(sandbox.tokensIssued).toBe(1);
  });

  it('resets connections, before or in the middle of the body', async () => {
    const sandbox = await sandboxWith();
    sandbox.api.enqueue({ reset: true }, { resetMidBody: true });
    await expect(callApi(sandbox, '/x')).rejects.toThrow();
    const res = await callApi(sandbox, '/x');
    expect(res.status).toBe(200);
    await expect(res.json()).rejects.toThrow();
    expect(sandbox.api.requests.map((r) => r.status)).toEqual([undefined, undefined]);
  });

  it('redirects', async () => {
    const sandbox = await sandboxWith();
    sandbox.api.enqueue({ redirectTo: 'http://127.0.0.2:1/elsewhere' }, { redirectTo: '/there', status: 307 });
    const res = await callApi(sandbox, '/x');
    expect(res.status).toBe(302);
    expect(res.headers.get('location')).toBe('http://127.0.0.2:1/elsewhere');
    const temporary = await callApi(sandbox, '/x');
    expect(temporary.status).toBe(307);
    expect(temporary.headers.get('location')).toBe('/there');
  });

  it('trickles a body a byte at a time after sending the headers at once', async () => {
    const sandbox = await sandboxWith();
    sandbox.token.enqueue({ trickleMs: 50, body: { ok: true } });
    const started = Date.now();
    const res = await tokenRequest(sandbox, goodForm(sandbox));
    expect(res.status).toBe(200);
    expect(Date.now() - started).toBeLessThan(50 * 11); // the headers came before the body
    expect(await res.text()).toBe('{"ok":true}');
    expect(Date.now() - started).toBeGreaterThanOrEqual(50 * 11); // 11 bytes, then the end
    expect(sandbox.tokensIssued).toBe(0);
    expect(sandbox.token.requests[0]?.status).toBe(200);
  });

  it('without a body, trickles spaces until the client leaves or close()', async () => {
    const sandbox = await startSandbox();
    sandbox.token.enqueue({ trickleMs: 5 });
    const res = await tokenRequest(sandbox, goodForm(sandbox));
    const reader = res.body!.getReader();
    let received = '';
    while (received.length < 5) received += new TextDecoder().decode((await reader.read()).value);
    expect(received.trim()).toBe('');
    expect(sandbox.token.inFlight).toBe(1);
    const drained = (async () => {
      for (;;) if ((await reader.read()).done) return 'ended';
    })().catch(() => 'broken');
    await sandbox.close();
    expect(await drained).toBe('broken');
    expect(sandbox.token.inFlight).toBe(0);
  });

  it('streams a large well-formed token answer, generated lazily, and stops when the client leaves', async () => {
    const sandbox = await sandboxWith();
    sandbox.token.enqueue({ largeBodyBytes: 1_000_000 }, { largeBodyBytes: 200 * 1024 * 1024 });
    const res = await tokenRequest(sandbox, goodForm(sandbox));
    const text = await res.text();
    expect(text).toHaveLength(1_000_000);
    expect(JSON.parse(text)).toMatchObject({ token_type: 'Bearer', expires_in: 900 });

    const controller = new AbortController();
    const huge = await tokenRequest(sandbox, goodForm(sandbox), { signal: controller.signal });
    const reader = huge.body!.getReader();
    let received = 0;
    while (received < 1_000_000) received += (await reader.read()).value!.length;
    controller.abort();
    while (sandbox.token.inFlight > 0) await new Promise((resolve) => setTimeout(resolve, 5));
    expect(sandbox.token.requests.map((r) => r.status)).toEqual([200, 200]);
  });

  it('refuses malformed streamed faults', async () => {
    const sandbox = await sandboxWith();
    expect(() => sandbox.token.enqueue({ trickleMs: 0 })).toThrow(/trickleMs/);
    expect(() => sandbox.token.enqueue({ largeBodyBytes: 1.5 })).toThrow(/largeBodyBytes/);
    expect(sandbox.token.pendingFaults).toBe(0);
  });

  it('hangs until close(), which ends the request and resolves', async () => {
    const sandbox = await startSandbox();
    sandbox.api.enqueue({ hang: true });
    const hold = sandbox.api.hold();
    const pending = callApi(sandbox, '/x');
    await hold.untilWaiting(1);
    hold.release();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(sandbox.api.inFlight).toBe(1);
    const failed = expect(pending).rejects.toThrow();
    await sandbox.close();
    await failed;
    expect(sandbox.api.inFlight).toBe(0);
  });
});

describe('holds', () => {
  it('holds matching requests in flight until released', async () => {
    const sandbox = await sandboxWith();
    const hold = sandbox.token.hold((r) => r.clientId === sandbox.clientId);
    const held = [1, 2, 3].map(() => tokenRequest(sandbox, goodForm(sandbox)));
    await hold.untilWaiting(3);
    expect(hold.waiting).toBe(3);
    expect(sandbox.token.inFlight).toBe(3);
    expect(sandbox.token.count).toBe(3);
    expect(sandbox.token.maxInFlight).toBe(3);
    const passing = await tokenRequest(sandbox, { ...goodForm(sandbox), client_id: 'other' });
    expect(passing.status).toBe(400);
    expect(sandbox.tokensIssued).toBe(0);
    hold.release();
    expect((await Promise.all(held)).map((r) => r.status)).toEqual([200, 200, 200]);
    expect(sandbox.token.inFlight).toBe(0);
    expect(sandbox.tokensIssued).toBe(3);
  });

  it('applies faults after the hold, at release', async () => {
    const sandbox = await sandboxWith();
    const hold = sandbox.token.hold();
    const pending = tokenRequest(sandbox, goodForm(sandbox));
    await hold.untilWaiting(1);
    sandbox.token.enqueue({ status: 503 });
    hold.release();
    expect((await pending).status).toBe(503);
  });

  it('rejects untilWaiting when released first', async () => {
    const sandbox = await sandboxWith();
    const hold = sandbox.api.hold();
    const waiting = hold.untilWaiting(2);
    hold.release();
    await expect(waiting).rejects.toThrow(/released/);
  });

  it('untilWaiting gives up after 5 s by default, saying how many were waiting', async () => {
    const sandbox = await sandboxWith();
    const hold = sandbox.api.hold();
    jest.useFakeTimers();
    try {
      let settled = false;
      const waiting = hold.untilWaiting(10).finally(() => (settled = true));
      const rejected = expect(waiting).rejects.toThrow(
        'untilWaiting(10) timed out after 5000 ms with 0 request(s) waiting: start the requests before waiting for them',
      );
      await jest.advanceTimersByTimeAsync(4_999);
      expect(settled).toBe(false);
      await jest.advanceTimersByTimeAsync(1);
      await rejected;
    } finally {
      jest.useRealTimers();
    }
    hold.release();
  });

  it('untilWaiting takes a timeoutMs, and its timer ends when the count is reached', async () => {
    const sandbox = await sandboxWith();
    const hold = sandbox.api.hold();
    await expect(hold.untilWaiting(1, { timeoutMs: 20 })).rejects.toThrow(/timed out after 20 ms with 0 request/);
    const pending = callApi(sandbox, '/x');
    const clearTimeoutSpy = jest.spyOn(global, 'clearTimeout');
    await hold.untilWaiting(1, { timeoutMs: 60_000 });
    expect(clearTimeoutSpy).toHaveBeenCalled();
    hold.release();
    await pending;
    await expect(hold.untilWaiting(1.5)).rejects.toThrow(/count must be a non-negative integer/);
    await expect(sandbox.api.hold().untilWaiting(1, { timeoutMs: -1 })).rejects.toThrow(/timeoutMs must be/);
  });

  it('ends held requests on close()', async () => {
    const sandbox = await startSandbox();
    const hold = sandbox.api.hold();
    const pending = callApi(sandbox, '/x');
    await hold.untilWaiting(1);
    const failed = expect(pending).rejects.toThrow();
    await sandbox.close();
    await failed;
    expect(sandbox.api.inFlight).toBe(0);
  });
});

function getWithAgent(url: string, agent: Agent): Promise<IncomingMessage & { reused: boolean }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { agent }, (res) => {
      res.resume();
      res.on('end', () => resolve(Object.assign(res, { reused: req.reusedSocket })));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('lifecycle and counters', () => {
  it('keeps connections alive and still closes promptly', async () => {
    const sandbox = await startSandbox({ requireAppKey: false });
    const agent = new Agent({ keepAlive: true });
    try {
      const first = await getWithAgent(`${sandbox.apiUrl}/x`, agent);
      const second = await getWithAgent(`${sandbox.apiUrl}/x`, agent);
      expect([first.statusCode, second.statusCode]).toEqual([401, 401]);
      expect(second.reused).toBe(true);
      const started = Date.now();
      await sandbox.close();
      expect(Date.now() - started).toBeLessThan(1000);
      await sandbox.close();
    } finally {
      agent.destroy();
    }
  });

  it('resets counters, logs and token tallies but keeps numbering tokens', async () => {
    const sandbox = await sandboxWith();
    await callApi(sandbox, customersPath('1000'), { token: await getToken(sandbox) });
    sandbox.resetCounters();
    expect([sandbox.token.count, sandbox.api.count, sandbox.tokensIssued]).toEqual([0, 0, 0]);
    expect([sandbox.token.requests, sandbox.api.requests, sandbox.tokensSeen]).toEqual([[], [], []]);
    expect(sandbox.api.maxInFlight).toBe(0);
    const token = await getToken(sandbox);
    expect(decodePart(token, 1)['jti']).toBe('tok-2');
    expect(sandbox.tokensIssued).toBe(1);
  });

  it('keeps only the last requestLogLimit records but counts every request', async () => {
    const sandbox = await sandboxWith({ requestLogLimit: 2 });
    for (const path of ['/a', '/b', '/c']) await callApi(sandbox, path);
    expect(sandbox.api.count).toBe(3);
    expect(sandbox.api.requests.map((r) => r.path)).toEqual(['/b', '/c']);
  });
});

describe('rate limits', () => {
  /** Fires `n` calls at once, released together from a hold so they land within milliseconds. */
  async function burst(sandbox: Sandbox, calls: (() => Promise<Response>)[]): Promise<Response[]> {
    const hold = sandbox.api.hold();
    const pending = calls.map((call) => call());
    await hold.untilWaiting(calls.length);
    hold.release();
    return Promise.all(pending);
  }

  const times = <T>(n: number, make: () => T): T[] => Array.from({ length: n }, make);
  const statuses = (responses: Response[]): number[] => responses.map((r) => r.status);
  const count = (list: number[], status: number): number => list.filter((s) => s === status).length;

  it('answers the 61st call of a second with a 429 problem and Retry-After (default limit)', async () => {
    const sandbox = await sandboxWith();
    const token = await getToken(sandbox);
    const responses = await burst(
      sandbox,
      times(61, () => () => callApi(sandbox, customersPath('1000') + '?pageSize=1', { token })),
    );
    const got = statuses(responses);
    expect(count(got, 200)).toBe(60);
    expect(count(got, 429)).toBe(1);
    const limited = responses.find((r) => r.status === 429);
    expect(limited?.headers.get('retry-after')).toBe('1');
    expectProblem(await json(limited as Response), 429);
    expect(sandbox.api.rateLimited).toBe(1);
    expect(
      count(
        sandbox.api.requests.map((r) => r.status ?? 0),
        429,
      ),
    ).toBe(1);
    // All 61 arrived within the second, the 429'd one included; a 1 ms window sees fewer.
    expect(sandbox.api.maxArrivals()).toBe(61);
    expect(sandbox.api.maxArrivals(1)).toBeLessThan(61);
    sandbox.resetCounters();
    expect(sandbox.api.rateLimited).toBe(0);
    expect(sandbox.api.maxArrivals()).toBe(0);
  });

  it('counts per application and tenant: two tenants get 60 each', async () => {
    const clients = [
      { clientId: 'a', clientSecret: 'sa', tenantId: '1' },
      { clientId: 'b', clientSecret: 'sb', tenantId: '2' },
    ];
    const sandbox = await sandboxWith({ clients });
    const tokenFor = async (id: string, secret: string): Promise<string> => {
      const res = await tokenRequest(sandbox, {
        grant_type: 'client_credentials',
        client_id: id,
        client_secret: secret,
      });
      return (await json<{ access_token: string }>(res)).access_token;
    };
    const [a, b] = [await tokenFor('a', 'sa'), await tokenFor('b', 'sb')];
    const responses = await burst(sandbox, [
      ...times(61, () => () => callApi(sandbox, customersPath('1'), { token: a })),
      ...times(61, () => () => callApi(sandbox, customersPath('2'), { token: b })),
    ]);
    const got = statuses(responses);
    expect([count(got.slice(0, 61), 200), count(got.slice(0, 61), 429)]).toEqual([60, 1]);
    expect([count(got.slice(61), 200), count(got.slice(61), 429)]).toEqual([60, 1]);
    expect(sandbox.api.rateLimited).toBe(2);
  });

  it('does not count calls refused by authentication', async () => {
    const sandbox = await sandboxWith({ rateLimit: { requestsPerSecond: 2 } });
    const token = await getToken(sandbox);
    for (let i = 0; i < 5; i += 1) {
      expect((await callApi(sandbox, customersPath('1000'), { token: 'x.y.z' })).status).toBe(401);
    }
    const got = statuses(
      await burst(
        sandbox,
        times(3, () => () => callApi(sandbox, customersPath('1000'), { token })),
      ),
    );
    expect(got.sort()).toEqual([200, 200, 429]);
  });

  it('lets calls through again once the window has slid', async () => {
    const sandbox = await sandboxWith({ rateLimit: { requestsPerSecond: 1 } });
    const token = await getToken(sandbox);
    expect((await callApi(sandbox, customersPath('1000'), { token })).status).toBe(200);
    expect((await callApi(sandbox, customersPath('1000'), { token })).status).toBe(429);
    await new Promise((resolve) => setTimeout(resolve, 1050));
    expect((await callApi(sandbox, customersPath('1000'), { token })).status).toBe(200);
  });

  it.each([
    ['http-date', (v: string | null) => Date.parse(v ?? '') - Date.now() <= 2000],
    ['absent', (v: string | null) => v === null],
  ] as const)('sends Retry-After per retryAfterStyle %s', async (style, check) => {
    const sandbox = await sandboxWith({ retryAfterStyle: style, rateLimit: { requestsPerSecond: 1 } });
    const token = await getToken(sandbox);
    await callApi(sandbox, customersPath('1000'), { token });
    const res = await callApi(sandbox, customersPath('1000'), { token });
    expect(res.status).toBe(429);
    expect(check(res.headers.get('retry-after'))).toBe(true);
  });

  it('is off with rateLimit: false, and rejects bad limits naming the option', async () => {
    const sandbox = await sandboxWith({ rateLimit: false });
    const token = await getToken(sandbox);
    const got = statuses(
      await burst(
        sandbox,
        times(100, () => () => callApi(sandbox, customersPath('1000'), { token })),
      ),
    );
    expect(count(got, 200)).toBe(100);
    await expect(startSandbox({ rateLimit: { requestsPerSecond: 0 } })).rejects.toThrow(/rateLimit\.requestsPerSecond/);
    await expect(startSandbox({ reportRateLimit: { perMinute: 1.5 } })).rejects.toThrow(/reportRateLimit\.perMinute/);
  });
});

interface ReportBody extends PageBody {
  fields: { name: string; label: string }[];
  data: never;
}

describe('reporting', () => {
  const reportPath = (tenant: string, id: number | string, query = ''): string =>
    `/reporting/v2/tenant/${tenant}/report-category/operations/reports/${id}/data${query}`;
  const runReport = (
    sandbox: Sandbox,
    token: string,
    path: string,
    body: unknown = { parameters: [{ name: 'From', value: '2024-01-01' }] },
  ): Promise<Response> =>
    callApi(sandbox, path, {
      token,
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });

  it('lists report categories', async () => {
    const sandbox = await sandboxWith();
    const res = await callApi(sandbox, '/reporting/v2/tenant/1000/report-categories', {
      token: await getToken(sandbox),
    });
    expect(await json(res)).toMatchObject({
      page: 1,
      hasMore: false,
      data: expect.arrayContaining([{ id: 'operations', name: 'Operations' }]),
    });
  });

  it('serves report data in pages of row arrays with fields', async () => {
    const sandbox = await sandboxWith({ reportRateLimit: false });
    const token = await getToken(sandbox);
    const first = await json<ReportBody>(
      await runReport(sandbox, token, reportPath('1000', 42, '?pageSize=50&includeTotal=true')),
    );
    expect(first).toMatchObject({ page: 1, pageSize: 50, hasMore: true, totalCount: 75 });
    expect(first.fields).toEqual(expect.arrayContaining([{ name: 'JobNumber', label: expect.any(String) }]));
    expect(first.data).toHaveLength(50);
    expect((first.data as unknown[][])[0]).toHaveLength(first.fields.length);
    const second = await json<ReportBody>(
      await runReport(sandbox, token, reportPath('1000', 42, '?page=2&pageSize=50')),
    );
    expect(second).toMatchObject({ page: 2, hasMore: false, totalCount: null });
    expect(second.data).toHaveLength(25);
  });

  it('validates method, body and paging as the reporting spec does', async () => {
    const sandbox = await sandboxWith({ reportRateLimit: false });
    const token = await getToken(sandbox);
    const get = await callApi(sandbox, reportPath('1000', 1), { token });
    expect(get.status).toBe(405);
    expect(get.headers.get('allow')).toBe('POST');
    const badBodies: [unknown, string][] = [
      [{}, 'parameters'],
      [{ parameters: 'x' }, 'parameters'],
      [[1], '$'],
      [{ parameters: [{ value: 1 }] }, 'parameters[0].name'],
      [{ parameters: [{ name: '' }] }, 'parameters[0].name'],
      // additionalProperties: false, on the body and on each parameter.
      [{ parameters: [], format: 'csv' }, 'format'],
      [{ parameters: [{ name: 'From', value: 1, type: 'Date' }] }, 'parameters[0].type'],
    ];
    for (const [body, field] of badBodies) {
      const res = await runReport(sandbox, token, reportPath('1000', 1), body);
      expect(res.status).toBe(400);
      const problemBody = await json(res);
      expectProblem(problemBody, 400);
      expect(problemBody['errors']).toEqual({ [field]: [expect.any(String)] });
    }
    // `value` is optional and nullable.
    for (const parameters of [[{ name: 'From' }], [{ name: 'From', value: null }]]) {
      expect((await runReport(sandbox, token, reportPath('1000', 1), { parameters })).status).toBe(200);
    }
    for (const includeTotal of ['maybe', '1']) {
      const res = await runReport(sandbox, token, reportPath('1000', 1, `?includeTotal=${includeTotal}`));
      expect(res.status).toBe(400);
      expect((await json(res))['errors']).toEqual({ includeTotal: [expect.any(String)] });
    }
    for (const pageSize of ['0', '25001']) {
      const res = await runReport(sandbox, token, reportPath('1000', 1, `?pageSize=${pageSize}`));
      expect(res.status).toBe(400);
      expect((await json(res))['errors']).toEqual({ pageSize: ['The field pageSize must be between 1 and 25000.'] });
    }
    const notANumber = await runReport(sandbox, token, reportPath('1000', 1, '?pageSize=x'));
    expect((await json(notANumber))['errors']).toEqual({ pageSize: ["The value 'x' is not valid for pageSize."] });
    expect((await runReport(sandbox, token, reportPath('1000', 'abc'))).status).toBe(404);
    expect((await runReport(sandbox, token, reportPath('1000', 1), { parameters: [] })).status).toBe(200);
  });

  it("pages report data by 1000 unless told otherwise (the spec's default)", async () => {
    const sandbox = await sandboxWith({ reportRowCount: 1001 });
    const res = await runReport(sandbox, await getToken(sandbox), reportPath('1000', 5));
    const body = await json<ReportBody>(res);
    expect(body).toMatchObject({ page: 1, pageSize: 1000, hasMore: true });
    expect(body.data).toHaveLength(1000);
  });

  it('takes report pageSize up to 25 000 (lists stay at 5000)', async () => {
    const sandbox = await sandboxWith({ reportRowCount: 25_001, reportRateLimit: false });
    const token = await getToken(sandbox);
    const first = await json<ReportBody>(
      await runReport(sandbox, token, reportPath('1000', 3, '?pageSize=25000&includeTotal=true')),
    );
    expect(first).toMatchObject({ page: 1, pageSize: 25_000, hasMore: true, totalCount: 25_001 });
    expect(first.data).toHaveLength(25_000);
    const last = await json<ReportBody>(
      await runReport(sandbox, token, reportPath('1000', 3, '?page=2&pageSize=25000')),
    );
    expect(last).toMatchObject({ page: 2, hasMore: false });
    expect((last.data as unknown[][])[0]?.[0]).toBe('3-25001');
    const list = await callApi(sandbox, '/crm/v2/tenant/1000/customers?pageSize=5001', { token });
    expect(list.status).toBe(400);
  });

  it('allows 1 call of the same report per minute per tenant by default (the stricter published figure), then 429', async () => {
    const sandbox = await sandboxWith();
    const token = await getToken(sandbox);
    const now = Date.now();
    const clock = jest.spyOn(Date, 'now').mockReturnValue(now);
    expect((await runReport(sandbox, token, reportPath('1000', 7))).status).toBe(200);
    const limited = await runReport(sandbox, token, reportPath('1000', 7));
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('60');
    expectProblem(await json(limited), 429);
    // Each page is a run; a refused run is not one.
    const page2 = await runReport(sandbox, token, reportPath('1000', 7, '?page=2'));
    expect(page2.status).toBe(429);
    expect(sandbox.api.rateLimited).toBe(2);
    expect((await runReport(sandbox, token, reportPath('1000', 8))).status).toBe(200);
    clock.mockReturnValue(now + 59_000);
    expect((await runReport(sandbox, token, reportPath('1000', 7))).headers.get('retry-after')).toBe('1');
    clock.mockReturnValue(now + 60_000);
    expect((await runReport(sandbox, token, reportPath('1000', 7, '?page=2'))).status).toBe(200);
  });

  it('allows reportRateLimit.perMinute calls of the same report per minute per tenant (Date-based), then 429', async () => {
    const sandbox = await sandboxWith({ reportRateLimit: { perMinute: 5 } });
    const token = await getToken(sandbox);
    const now = Date.now();
    const clock = jest.spyOn(Date, 'now').mockReturnValue(now);
    for (let i = 0; i < 5; i += 1) {
      expect((await runReport(sandbox, token, reportPath('1000', 7))).status).toBe(200);
    }
    const limited = await runReport(sandbox, token, reportPath('1000', 7));
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('60');
    expectProblem(await json(limited), 429);
    expect(sandbox.api.rateLimited).toBe(1);
    // Another report is counted apart.
    expect((await runReport(sandbox, token, reportPath('1000', 8))).status).toBe(200);
    clock.mockReturnValue(now + 30_000);
    const later = await runReport(sandbox, token, reportPath('1000', 7));
    expect(later.status).toBe(429);
    expect(later.headers.get('retry-after')).toBe('30');
    clock.mockReturnValue(now + 60_000);
    expect((await runReport(sandbox, token, reportPath('1000', 7))).status).toBe(200);
  });

  it('counts reports per tenant, and is off with reportRateLimit: false', async () => {
    const clients = [
      { clientId: 'a', clientSecret: 'sa', tenantId: '1' },
      { clientId: 'b', clientSecret: 'sb', tenantId: '2' },
    ];
    const sandbox = await sandboxWith({ clients, reportRateLimit: { perMinute: 1 } });
    const tokenFor = async (id: string, secret: string): Promise<string> => {
      const res = await tokenRequest(sandbox, {
        grant_type: 'client_credentials',
        client_id: id,
        client_secret: secret,
      });
      return (await json<{ access_token: string }>(res)).access_token;
    };
    const [a, b] = [await tokenFor('a', 'sa'), await tokenFor('b', 'sb')];
    expect((await runReport(sandbox, a, reportPath('1', 9))).status).toBe(200);
    expect((await runReport(sandbox, a, reportPath('1', 9))).status).toBe(429);
    expect((await runReport(sandbox, b, reportPath('2', 9))).status).toBe(200);

    const unlimited = await sandboxWith({ reportRateLimit: false });
    const token = await getToken(unlimited);
    for (let i = 0; i < 8; i += 1) {
      expect((await runReport(unlimited, token, reportPath('1000', 7))).status).toBe(200);
    }
  });
});

describe('export feed resumption', () => {
  it('resumes from the continueFrom of any batch with exactly the remaining records', async () => {
    const sandbox = await sandboxWith({ exportBatchSize: 7, customerCount: 30 });
    const token = await getToken(sandbox);
    const path = '/crm/v2/tenant/1000/export/customers';
    const cursors: string[] = [];
    let batch = await json<ExportBody>(await callApi(sandbox, path, { token }));
    for (;;) {
      cursors.push(batch.continueFrom);
      if (!batch.hasMore) break;
      batch = await json<ExportBody>(
        await callApi(sandbox, `${path}?from=${encodeURIComponent(batch.continueFrom)}`, { token }),
      );
    }
    expect(cursors).toHaveLength(5);
    for (const [index, cursor] of cursors.entries()) {
      const ids: number[] = [];
      let from = cursor;
      for (;;) {
        const next = await json<ExportBody>(
          await callApi(sandbox, `${path}?from=${encodeURIComponent(from)}`, { token }),
        );
        ids.push(...next.data.map((c) => c.id));
        from = next.continueFrom;
        if (!next.hasMore) break;
      }
      const done = Math.min(30, (index + 1) * 7);
      expect(ids).toEqual(Array.from({ length: 30 - done }, (_, i) => done + i + 1));
    }
  });
});
