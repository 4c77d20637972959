import http, { type Agent } from 'node:http';
import https from 'node:https';
import { inspect } from 'node:util';
import axios, { AxiosError } from 'axios';
import {
  createServiceTitanClient,
  RedactedRequest,
  type ServiceTitanClient,
  type ServiceTitanClientOptions,
} from '../src';
import { recordingLogger } from './helpers/logger';
import { reachableText } from './helpers/reachable-text';
import { authOptions, customersPath, useSandbox } from './helpers/sandbox';
import { createTestCertificate, startTlsTerminator, type TestCertificate, type TlsTerminator } from './helpers/tls';
import type { Sandbox } from '../src/testing';

/** Every printable form of an error, as a user's logging would produce it. */
function printable(error: unknown): string {
  const e = error as Error & { toJSON?: () => unknown };
  return [
    inspect(error, { depth: 10 }),
    inspect(error, { depth: 10, showHidden: false, getters: true }),
    JSON.stringify(error),
    JSON.stringify(e.toJSON?.() ?? null),
    String(error),
    e.stack ?? '',
  ].join('\n');
}

function expectNoSecrets(text: string, sandbox: Sandbox, token: string): void {
  expect(text).not.toContain(token);
  expect(text).not.toContain(sandbox.clientSecret);
  expect(text).not.toContain(sandbox.appKey);
}

describe('G7: no secret or token in errors or logs', () => {
  const sandbox = useSandbox();

  test('an API error (404) passed through the instance prints no token, app key or secret', async () => {
    const { logger, lines } = recordingLogger();
    const client = createServiceTitanClient(authOptions(sandbox(), { logger }));
    const token = await client.auth.getToken();
    const error = await client.get(`/crm/v2/tenant/${sandbox().tenantId}/nothing-here`).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AxiosError);
    expect((error as AxiosError).response?.status).toBe(404);
    expect((error as AxiosError).config?.headers.Authorization).toBe('Bearer [redacted]');
    expectNoSecrets(printable(error), sandbox(), token);
    expectNoSecrets(JSON.stringify(lines), sandbox(), token);
  });

  test('a 401 that persists after the replay prints no token either (both tokens)', async () => {
    const client = createServiceTitanClient(authOptions(sandbox()));
    const first = await client.auth.getToken();
    sandbox().api.enqueue({ status: 401, times: 2 });
    const error = await client.get(customersPath(sandbox())).catch((e: unknown) => e);
    const second = await client.auth.getToken();
    expect(second).not.toBe(first);
    expectNoSecrets(printable(error), sandbox(), first);
    expectNoSecrets(printable(error), sandbox(), second);
  });

  test('a network error mid-request prints no token', async () => {
    const client = createServiceTitanClient({ ...authOptions(sandbox()), retry: false });
    const token = await client.auth.getToken();
    sandbox().api.enqueue({ reset: true });
    const error = await client.get(customersPath(sandbox())).catch((e: unknown) => e);
    expect((error as AxiosError).code).toBe('ECONNRESET');
    expectNoSecrets(printable(error), sandbox(), token);
  });

  test('token endpoint failures print no secret: rejected credentials, 5xx, bad body, timeout', async () => {
    const { logger, lines } = recordingLogger();
    // Only the hang must time out; at 50 ms a loaded machine timed out the 400 and the 503 too.
    const client = createServiceTitanClient(
      authOptions(sandbox(), { logger, tokenRequest: { retries: 0, timeoutMs: 1000, failureCooldownMs: 0 } }),
    );
    sandbox().token.enqueue(
      { status: 400, body: { error: 'invalid_client' } },
      { status: 503 },
      { status: 200, body: '<html>' },
      { hang: true },
    );
    const errors = [];
    for (let i = 0; i < 4; i += 1) errors.push(await client.auth.getToken().catch((e: unknown) => e));
    expect(errors.map((e) => (e as { code?: string }).code)).toEqual([
      'invalid_client',
      'token_request_failed',
      'invalid_token_response',
      'token_request_failed',
    ]);
    for (const error of errors) expectNoSecrets(printable(error), sandbox(), 'no-token-yet');
    expectNoSecrets(JSON.stringify(lines), sandbox(), 'no-token-yet');
  });

  test('log lines name tokens only by fingerprint', async () => {
    const { logger, lines } = recordingLogger();
    const client = createServiceTitanClient(authOptions(sandbox(), { logger }));
    await client.get(customersPath(sandbox()));
    sandbox().revokeAllTokens();
    await client.get(customersPath(sandbox()));
    const tokens = [await client.auth.getToken()];
    expect(lines.map((l) => l.message)).toEqual(
      expect.arrayContaining([
        'token obtained',
        'token rejected by the API; renewing',
        'replaying request after token renewal',
      ]),
    );
    expect(lines.find((l) => l.message === 'token obtained')?.details?.token).toMatch(/^[0-9a-f]{8}$/);
    for (const token of tokens) expectNoSecrets(JSON.stringify(lines), sandbox(), token);
  });

  test('the client and its handle print no secret', async () => {
    const client = createServiceTitanClient(authOptions(sandbox()));
    const token = await client.auth.getToken();
    expectNoSecrets(inspect(client.auth, { depth: 10 }), sandbox(), token);
    expectNoSecrets(JSON.stringify(client.auth), sandbox(), token);
  });
});

/** The deepest forms: `showHidden` at unlimited depth, the raw request, a full object walk. */
function deepPrintable(error: unknown): string {
  const e = error as AxiosError;
  return [
    printable(error),
    inspect(error, { showHidden: true, depth: Infinity, getters: true }),
    inspect(e.request, { showHidden: true, depth: Infinity }),
    inspect(e.response, { showHidden: true, depth: Infinity }),
    String((e.request as { _header?: unknown } | undefined)?._header ?? ''),
    reachableText(error),
  ].join('\n');
}

describe('G7: deep redaction of errors passed through (showHidden, err.request, object walks)', () => {
  const sandbox = useSandbox();

  async function failingCall(client: ServiceTitanClient): Promise<AxiosError> {
    const error = await client.get(`${customersPath(sandbox())}?pageSize=1`).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AxiosError);
    return error as AxiosError;
  }

  function expectSafeRequest(error: AxiosError): void {
    // Through the public entry: its types have always declared the class (issue 19 item 6).
    expect(error.request).toBeInstanceOf(RedactedRequest);
    // The fields people read to say which call failed; the query string is dropped.
    expect(error.request).toEqual({
      method: 'GET',
      protocol: 'http:',
      host: '127.0.0.1',
      path: customersPath(sandbox()),
    });
    expect(error.request._header).toBeUndefined();
    expect(error.response?.request).toBe(error.request);
  }

  test.each([500, 403])(
    'a %i from the API, passed to the caller, holds no token or app key anywhere',
    async (status) => {
      const client = createServiceTitanClient({ ...authOptions(sandbox()), retry: false });
      const token = await client.auth.getToken();
      sandbox().api.enqueue({ status });
      const error = await failingCall(client);
      expect(error.response?.status).toBe(status);
      expect(sandbox().api.count).toBe(1);
      expectSafeRequest(error);
      expectNoSecrets(deepPrintable(error), sandbox(), token);
    },
  );

  test('a 401 that persists after the replay holds neither token anywhere', async () => {
    const client = createServiceTitanClient(authOptions(sandbox()));
    const first = await client.auth.getToken();
    sandbox().api.enqueue({ status: 401, times: 2 });
    const error = await failingCall(client);
    const second = await client.auth.getToken();
    expect(second).not.toBe(first);
    expect(sandbox().api.count).toBe(2);
    expectSafeRequest(error);
    const text = deepPrintable(error);
    expectNoSecrets(text, sandbox(), first);
    expectNoSecrets(text, sandbox(), second);
  });
});

/**
 * Every way a secret could be reached from `root`: own properties (enumerable or not, symbol
 * keys, getters that do not throw), Map and Set entries, and the bytes of buffers, with a
 * visited set. Returns the path of the first string that contains one of `secrets`, or
 * `undefined`. Stricter than `JSON.stringify` (which skips non-enumerable and symbol keys) and
 * than `util.inspect` (which stops at a depth and skips getters).
 */
function pathToSecret(root: unknown, secrets: readonly string[], limit = 500_000): string | undefined {
  const holds = (text: string) => secrets.some((secret) => text.includes(secret));
  const seen = new Set<unknown>();
  const pending: Array<[unknown, string]> = [[root, 'error']];
  while (pending.length > 0) {
    const [value, path] = pending.shift()!;
    if (typeof value === 'string') {
      if (holds(value)) return path;
      continue;
    }
    if (value === null || (typeof value !== 'object' && typeof value !== 'function') || seen.has(value)) continue;
    seen.add(value);
    if (seen.size > limit) throw new Error(`more than ${limit} objects reachable from the error`);
    if (ArrayBuffer.isView(value)) {
      if (holds(Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('latin1'))) return path;
      continue;
    }
    if (value instanceof Map) {
      for (const [key, entry] of value) pending.push([key, `${path}<key>`], [entry, `${path}<${String(key)}>`]);
    }
    if (value instanceof Set) for (const entry of value) pending.push([entry, `${path}<entry>`]);
    for (const key of Reflect.ownKeys(value)) {
      const name = typeof key === 'symbol' ? `[${key.toString()}]` : key;
      if (typeof key === 'string' && holds(key)) return `${path}.${name} (key)`;
      try {
        pending.push([Reflect.get(value, key), `${path}.${name}`]);
      } catch {
        // A getter that throws gives nothing away.
      }
    }
  }
  return undefined;
}

/** Each output a logger may produce of an error, and the object walk: all free of `secrets`. */
function expectNothingReaches(error: unknown, secrets: readonly string[]): void {
  expect(pathToSecret(error, secrets)).toBeUndefined();
  const texts = [
    JSON.stringify(error) ?? '',
    inspect(error, { showHidden: true, depth: Infinity, getters: true }),
    inspect(error, { depth: 10 }),
  ];
  for (const text of texts) for (const secret of secrets) expect(text).not.toContain(secret);
}

describe('G18: errors never reach an agent or its sockets (keep-alive agents, idle and in flight)', () => {
  const sandbox = useSandbox();
  let certificate: TestCertificate;
  let terminator: TlsTerminator | undefined;
  beforeAll(() => {
    certificate = createTestCertificate();
  });
  afterAll(() => certificate.remove());
  afterEach(async () => {
    await terminator?.close();
    terminator = undefined;
  });

  type Transport = 'http' | 'https';
  const agents: Agent[] = [];
  afterEach(() => {
    for (const agent of agents.splice(0)) agent.destroy();
  });

  /** A client whose API requests go through a keep-alive agent of `transport`. */
  async function keepAliveClient(transport: Transport, overrides: Partial<ServiceTitanClientOptions> = {}) {
    const s = sandbox();
    let apiUrl = s.apiUrl;
    let axiosDefaults: ServiceTitanClientOptions['axios'];
    if (transport === 'https') {
      terminator = await startTlsTerminator(Number(new URL(s.apiUrl).port), certificate);
      apiUrl = `https://localhost:${terminator.port}`;
      const agent = new https.Agent({ keepAlive: true, ca: certificate.cert });
      agents.push(agent);
      axiosDefaults = { httpsAgent: agent };
    } else {
      const agent = new http.Agent({ keepAlive: true });
      agents.push(agent);
      axiosDefaults = { httpAgent: agent };
    }
    // The token endpoint stays on loopback http: its requests never use the API's agent.
    return createServiceTitanClient({
      ...authOptions(s),
      environment: { authUrl: s.authUrl, apiUrl },
      retry: false,
      axios: axiosDefaults,
      ...overrides,
    });
  }

  const heldPath = () => `/crm/v2/tenant/${sandbox().tenantId}/held`;

  /**
   * Runs `fail` with another request of the same client in flight (held at the sandbox, so its
   * socket is busy and holds its headers) or with the agent idle (the first request's socket
   * kept alive and free), and returns what `fail` rejected with.
   */
  async function failWhile(
    state: 'idle' | 'in flight',
    client: ServiceTitanClient,
    fail: () => Promise<unknown>,
  ): Promise<unknown> {
    await client.get(customersPath(sandbox()));
    if (state === 'idle')
      return fail().then(
        () => 'resolved',
        (error: unknown) => error,
      );
    const hold = sandbox().api.hold((request) => request.path === heldPath());
    const held = client.get(heldPath()).catch((error: unknown) => error);
    await hold.untilWaiting(1);
    const error = await fail().then(
      () => 'resolved',
      (error: unknown) => error,
    );
    // Walked while the other request is still in flight.
    const secrets = await secretsOf(client);
    expectNothingReaches(error, secrets);
    hold.release();
    await held;
    return error;
  }

  async function secretsOf(client: ServiceTitanClient): Promise<string[]> {
    return [await client.auth.getToken(), sandbox().appKey, sandbox().clientSecret];
  }

  const cases = (['http', 'https'] as const).flatMap((transport) =>
    (['idle', 'in flight'] as const).map((state) => [transport, state] as const),
  );

  test.each(cases)('%s, %s: 500 and 404 from the API', async (transport, state) => {
    const client = await keepAliveClient(transport);
    for (const status of [500, 404]) {
      const error = await failWhile(state, client, () => {
        sandbox().api.enqueue({ status, match: (request) => request.path === customersPath(sandbox()) });
        return client.get(customersPath(sandbox()));
      });
      expect((error as AxiosError).response?.status).toBe(status);
      // What a user reads from the config still works.
      const config = (error as AxiosError).config!;
      expect(config.method).toBe('get');
      expect(config.url).toContain(customersPath(sandbox()));
      expect(config.headers.Authorization).toBe('Bearer [redacted]');
      expectNothingReaches(error, await secretsOf(client));
    }
  });

  test.each(cases)('%s, %s: a timeout', async (transport, state) => {
    const client = await keepAliveClient(transport);
    const error = await failWhile(state, client, () => {
      sandbox().api.enqueue({ hang: true, match: (request) => request.path === customersPath(sandbox()) });
      return client.get(customersPath(sandbox()), { timeout: 300 });
    });
    // Which of axios's two timeout codes depends on `transitional.clarifyTimeoutError`.
    expect(['ECONNABORTED', 'ETIMEDOUT']).toContain((error as AxiosError).code);
    expectNothingReaches(error, await secretsOf(client));
  });

  test.each(cases)('%s, %s: a connection reset', async (transport, state) => {
    const client = await keepAliveClient(transport);
    const error = await failWhile(state, client, () => {
      sandbox().api.enqueue({ reset: true, match: (request) => request.path === customersPath(sandbox()) });
      return client.get(customersPath(sandbox()));
    });
    expect((error as AxiosError).code).toBe('ECONNRESET');
    expectNothingReaches(error, await secretsOf(client));
  });

  test.each(cases)('%s, %s: a 500 with responseType stream, whose body stays readable', async (transport, state) => {
    const client = await keepAliveClient(transport);
    const error = await failWhile(state, client, () => {
      sandbox().api.enqueue({ status: 500, match: (request) => request.path === customersPath(sandbox()) });
      return client.get(customersPath(sandbox()), { responseType: 'stream' });
    });
    expectNothingReaches(error, await secretsOf(client));
    const chunks: Buffer[] = [];
    for await (const chunk of (error as AxiosError<NodeJS.ReadableStream>).response!.data) chunks.push(chunk as Buffer);
    expect(Buffer.concat(chunks).length).toBeGreaterThan(0);
  });

  test.each(cases)('%s, %s: an abort while the request is in flight', async (transport, state) => {
    const client = await keepAliveClient(transport);
    const error = await failWhile(state, client, async () => {
      const hold = sandbox().api.hold((request) => request.path === customersPath(sandbox()));
      const controller = new AbortController();
      const call = client.get(customersPath(sandbox()), { signal: controller.signal });
      await hold.untilWaiting(1);
      controller.abort();
      try {
        return await call;
      } finally {
        hold.release();
      }
    });
    expect(axios.isCancel(error)).toBe(true);
    expect((error as AxiosError).config?.url).toContain(customersPath(sandbox()));
    expectNothingReaches(error, await secretsOf(client));
  });

  test.each(cases)('%s, %s: a 401 that persists after the replay', async (transport, state) => {
    const client = await keepAliveClient(transport);
    const tokens: string[] = [];
    const error = await failWhile(state, client, async () => {
      tokens.push(await client.auth.getToken());
      sandbox().api.enqueue({ status: 401, times: 2, match: (request) => request.path === customersPath(sandbox()) });
      return client.get(customersPath(sandbox()));
    });
    expect((error as AxiosError).response?.status).toBe(401);
    tokens.push(await client.auth.getToken());
    expect(new Set(tokens).size).toBe(2);
    expectNothingReaches(error, [...tokens, sandbox().appKey, sandbox().clientSecret]);
  });

  test.each(cases)('%s, %s: a token error', async (transport, state) => {
    const client = await keepAliveClient(transport, { tokenRequest: { retries: 0, failureCooldownMs: 0 } });
    const tokens: string[] = [];
    const error = await failWhile(state, client, async () => {
      tokens.push(await client.auth.getToken());
      await client.auth.invalidate();
      sandbox().token.enqueue({ status: 400, body: { error: 'invalid_client' } });
      return client.get(customersPath(sandbox()));
    });
    expect((error as { code?: string }).code).toBe('invalid_client');
    expectNothingReaches(error, [...tokens, sandbox().appKey, sandbox().clientSecret]);
  });
});
