import { createServiceTitanClient } from '../src';
import { authOptions, customersPath, flushIo, useFakeClock, useSandbox } from './helpers/sandbox';
import { tokenError } from './helpers/token-error';

describe('G4: token request retries', () => {
  const sandbox = useSandbox();

  test.each([400, 401])('is never retried on %i: invalid_client, one request', async (status) => {
    const client = createServiceTitanClient(authOptions(sandbox()));
    sandbox().token.enqueue({ status, body: { error: 'invalid_client' } });
    const error = await tokenError(client.get(customersPath(sandbox())));
    expect(error).toMatchObject({ code: 'invalid_client', status, oauthError: 'invalid_client' });
    expect(sandbox().token.count).toBe(1);
  });

  test('wrong secret against the real credential check: invalid_client naming the client id, not the secret', async () => {
    const client = createServiceTitanClient(authOptions(sandbox(), { clientSecret: 'cs1.wrong-secret' }));
    const error = await tokenError(client.get(customersPath(sandbox())));
    expect(error.code).toBe('invalid_client');
    expect(error.message).toContain(sandbox().clientId);
    expect(error.message).not.toContain('cs1.wrong-secret');
    expect(sandbox().token.count).toBe(1);
  });

  test('an RFC 7807 error body (undocumented alternative) on 400 is still invalid_client, not retried', async () => {
    const client = createServiceTitanClient(authOptions(sandbox()));
    sandbox().token.enqueue({
      status: 400,
      body: { type: 'about:blank', title: 'Bad Request', status: 400, traceId: 'x' },
    });
    const error = await tokenError(client.get(customersPath(sandbox())));
    expect(error.code).toBe('invalid_client');
    expect(sandbox().token.count).toBe(1);
  });

  test('a 400 OAuth error that is not about credentials is token_request_failed, not retried', async () => {
    const client = createServiceTitanClient(authOptions(sandbox()));
    sandbox().token.enqueue({ status: 400, body: { error: 'invalid_scope' } });
    const error = await tokenError(client.get(customersPath(sandbox())));
    expect(error).toMatchObject({ code: 'token_request_failed', oauthError: 'invalid_scope', status: 400 });
    expect(sandbox().token.count).toBe(1);
  });

  test('is retried with backoff on 5xx, then succeeds', async () => {
    const client = createServiceTitanClient(authOptions(sandbox()));
    sandbox().token.enqueue({ status: 503 }, { status: 500 });
    expect((await client.get(customersPath(sandbox()))).status).toBe(200);
    expect(sandbox().token.count).toBe(3);
  });

  test('is retried on a connection reset and on a reset mid-body', async () => {
    const client = createServiceTitanClient(authOptions(sandbox()));
    sandbox().token.enqueue({ reset: true }, { resetMidBody: true });
    expect((await client.get(customersPath(sandbox()))).status).toBe(200);
    expect(sandbox().token.count).toBe(3);
  });

  test('gives up after tokenRequest.retries with token_request_failed and the last status', async () => {
    const client = createServiceTitanClient(authOptions(sandbox(), { tokenRequest: { retries: 2 } }));
    sandbox().token.enqueue({ status: 502, times: 3 });
    const error = await tokenError(client.get(customersPath(sandbox())));
    expect(error).toMatchObject({ code: 'token_request_failed', status: 502 });
    expect(sandbox().token.count).toBe(3);
  });

  test('a hang past tokenRequest.timeoutMs is a retried timeout, then token_request_failed', async () => {
    // The deadline covers connect to last byte: 300 ms leaves a loaded machine time to deliver
    // the request, so the hang (not the machine) is what times out.
    const client = createServiceTitanClient(authOptions(sandbox(), { tokenRequest: { timeoutMs: 300, retries: 1 } }));
    sandbox().token.enqueue({ hang: true, times: 2 });
    const error = await tokenError(client.get(customersPath(sandbox())));
    expect(error.code).toBe('token_request_failed');
    expect(error.message).toContain('timed out after 300 ms');
    expect(sandbox().token.count).toBe(2);
  });

  test('a network error (nothing listening) is token_request_failed', async () => {
    const { port } = new URL(sandbox().authUrl);
    await sandbox().close();
    const client = createServiceTitanClient(
      authOptions(sandbox(), {
        environment: { authUrl: `http://127.0.0.1:${port}/connect/token`, apiUrl: 'http://127.0.0.1:9' },
        tokenRequest: { retries: 1 },
      }),
    );
    const error = await tokenError(client.auth.getToken());
    expect(error.code).toBe('token_request_failed');
    expect(error.message).toContain('ECONNREFUSED');
  });

  test('429 with Retry-After in seconds: waits it out, all waiters share the one outcome', async () => {
    const client = createServiceTitanClient(authOptions(sandbox()));
    sandbox().token.enqueue({ status: 429, retryAfterMs: 1_000 });
    const started = Date.now();
    const requests = Array.from({ length: 10 }, () => client.get(customersPath(sandbox())));
    await flushIo(20);
    expect(sandbox().token.count).toBe(1);
    const responses = await Promise.all(requests);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
    expect(responses.every((r) => r.status === 200)).toBe(true);
    expect(sandbox().token.count).toBe(2);
  });

  test('429 with Retry-After as an HTTP date is honoured too', async () => {
    const client = createServiceTitanClient(authOptions(sandbox()));
    sandbox().token.enqueue({ status: 429, retryAfterDate: new Date(Date.now() + 2000) });
    const started = Date.now();
    await client.auth.getToken();
    // HTTP dates have 1 s resolution: the wait is at least ~1 s.
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    expect(sandbox().token.count).toBe(2);
  });

  test('429 without Retry-After is retried with backoff', async () => {
    const client = createServiceTitanClient(authOptions(sandbox()));
    sandbox().token.enqueue({ status: 429, retryAfterMs: 'absent' });
    await client.auth.getToken();
    expect(sandbox().token.count).toBe(2);
  });
});

describe('cooldown after a failed token fetch', () => {
  const sandbox = useSandbox();
  const clock = useFakeClock();

  test('during tokenRequest.failureCooldownMs new requests fail fast with the same error; afterwards one tries again', async () => {
    const client = createServiceTitanClient(
      authOptions(sandbox(), { tokenRequest: { failureCooldownMs: 2_000, retries: 1 } }),
    );
    sandbox().token.enqueue({ status: 503, times: 2 });
    const first = await tokenError(client.get(customersPath(sandbox())));
    expect(first).toMatchObject({ code: 'token_request_failed', status: 503 });
    expect(sandbox().token.count).toBe(2);

    const during = await Promise.all(
      Array.from({ length: 20 }, () => tokenError(client.get(customersPath(sandbox())))),
    );
    for (const error of during) expect(error).toBe(first);
    clock.advance(1_999);
    expect(await tokenError(client.auth.getToken({ forceRefresh: true }))).toBe(first);
    expect(sandbox().token.count).toBe(2);

    clock.advance(2);
    expect((await client.get(customersPath(sandbox()))).status).toBe(200);
    expect(sandbox().token.count).toBe(3);
  });

  test('tokenRequest.failureCooldownMs: 0 lets the next request try at once', async () => {
    const client = createServiceTitanClient(authOptions(sandbox(), { tokenRequest: { failureCooldownMs: 0 } }));
    sandbox().token.enqueue({ status: 400, body: { error: 'invalid_client' } });
    await tokenError(client.auth.getToken());
    await expect(client.auth.getToken()).resolves.toEqual(expect.any(String));
    expect(sandbox().token.count).toBe(2);
  });

  test('a failed background renewal keeps serving the current token, with one fetch per cooldown', async () => {
    const client = createServiceTitanClient(authOptions(sandbox(), { tokenRequest: { retries: 0 } }));
    await client.auth.getToken();
    clock.advance(900_000 - 30_000); // inside the renewal window
    sandbox().token.enqueue({ status: 503, times: 100 });
    for (let i = 0; i < 20; i += 1) expect((await client.get(customersPath(sandbox()))).status).toBe(200);
    await flushIo(20);
    expect(sandbox().token.count).toBe(2);
    expect(new Set(sandbox().api.requests.map((r) => r.tokenId))).toEqual(new Set(['tok-1']));
  });
});

describe('G4: cooldown after the token endpoint said 429', () => {
  const sandbox = useSandbox();
  const clock = useFakeClock();

  test('a Retry-After longer than tokenRequest.maxRetryAfterMs fails fast with rate_limited; nobody calls the endpoint during the cooldown, capped at it', async () => {
    const client = createServiceTitanClient(authOptions(sandbox(), { tokenRequest: { maxRetryAfterMs: 10_000 } }));
    sandbox().token.enqueue({ status: 429, retryAfterMs: 120_000 });
    const first = await tokenError(client.get(customersPath(sandbox())));
    expect(first).toMatchObject({ code: 'rate_limited', status: 429, retryAfterMs: 10_000 });
    expect(sandbox().token.count).toBe(1);

    const during = await Promise.all(Array.from({ length: 5 }, () => tokenError(client.get(customersPath(sandbox())))));
    for (const error of during) expect(error).toBe(first);
    clock.advance(9_990);
    await tokenError(client.get(customersPath(sandbox())));
    expect(sandbox().token.count).toBe(1);

    clock.advance(11); // 10 s after the 429, not the 120 s it asked for (guarantee 16)
    expect((await client.get(customersPath(sandbox()))).status).toBe(200);
    expect(sandbox().token.count).toBe(2);
  });

  test('429s until retries are spent: rate_limited, cooldown of tokenRequest.rateLimitedCooldownMs when no Retry-After', async () => {
    const client = createServiceTitanClient(
      authOptions(sandbox(), { tokenRequest: { retries: 1, rateLimitedCooldownMs: 7_000 } }),
    );
    sandbox().token.enqueue({ status: 429, retryAfterMs: 'absent', times: 2 });
    const error = await tokenError(client.auth.getToken());
    expect(error).toMatchObject({ code: 'rate_limited', retryAfterMs: 7_000 });
    await tokenError(client.auth.getToken());
    expect(sandbox().token.count).toBe(2);
    clock.advance(7_001);
    await client.auth.getToken();
    expect(sandbox().token.count).toBe(3);
  });
});

describe('token response validation', () => {
  const sandbox = useSandbox();
  const clock = useFakeClock();

  test.each([
    ['an HTML page', '<html>maintenance</html>', 'text/html'],
    ['an empty body', '', 'application/json'],
    ['broken JSON', '{"access_token": ', 'application/json'],
    ['a JSON array', [], undefined],
    ['no access_token', { token_type: 'Bearer', expires_in: 900 }, undefined],
    ['an empty access_token', { access_token: '', token_type: 'Bearer', expires_in: 900 }, undefined],
    ['a numeric access_token', { access_token: 42, token_type: 'Bearer', expires_in: 900 }, undefined],
    ['token_type not bearer', { access_token: 'x', token_type: 'mac', expires_in: 900 }, undefined],
    ['expires_in as a string', { access_token: 'x', token_type: 'Bearer', expires_in: '900' }, undefined],
    ['a negative expires_in', { access_token: 'x', token_type: 'Bearer', expires_in: -1 }, undefined],
  ])('%s is invalid_token_response, not retried, nothing cached', async (_name, body, contentType) => {
    const client = createServiceTitanClient(authOptions(sandbox()));
    sandbox().token.enqueue({ status: 200, body, ...(contentType ? { contentType } : {}) });
    const error = await tokenError(client.get(customersPath(sandbox())));
    expect(error.code).toBe('invalid_token_response');
    expect(error.message).not.toContain(sandbox().clientSecret);
    expect(sandbox().token.count).toBe(1);
    clock.advance(1_001); // past the failure cooldown
    expect((await client.get(customersPath(sandbox()))).status).toBe(200);
  });

  test('token_type is compared case-insensitively', async () => {
    const client = createServiceTitanClient(authOptions(sandbox()));
    sandbox().token.enqueue({ status: 200, body: { access_token: 'opaque', token_type: 'bEaReR', expires_in: 900 } });
    await expect(client.auth.getToken()).resolves.toBe('opaque');
  });
});
