import { inspect } from 'node:util';
import { AxiosError } from 'axios';
import { createServiceTitanClient, type ServiceTitanClient } from '../src';
import { RedactedRequest } from '../src/redaction';
import { recordingLogger } from './helpers/logger';
import { reachableText } from './helpers/reachable-text';
import { authOptions, customersPath, useSandbox } from './helpers/sandbox';
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
      authOptions(sandbox(), { logger, tokenRetries: 0, tokenTimeoutMs: 1000, failureCooldownMs: 0 }),
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
