import { createServiceTitanClient, createTenantClients } from '../src';
import type { SandboxCredentials } from '../src/testing';
import { MAX_TOKEN_RESPONSE_BYTES } from '../src/token/token-request';
import { authOptions, customersPath, flushIo, useSandbox } from './helpers/sandbox';
import { tokenError } from './helpers/token-error';

// Upper bounds below add this much to tokenRequest.timeoutMs × attempts + backoff, for the scheduling of
// a loaded CI machine. Without the per-attempt deadline these fetches never end at all: the
// trickle sends a byte every 50 ms forever, and axios's idle timer never fires.
const SCHEDULING_MARGIN_MS = 1_000;

describe('G13: a token attempt is bounded end to end by tokenRequest.timeoutMs', () => {
  const sandbox = useSandbox();

  test('a body trickled a byte every 50 ms is cut at the deadline of each attempt, retried, then token_request_failed', async () => {
    const tokenTimeoutMs = 400;
    const client = createServiceTitanClient(
      authOptions(sandbox(), { tokenRequest: { timeoutMs: tokenTimeoutMs, retries: 1 } }),
    );
    sandbox().token.enqueue({ trickleMs: 50, times: 2 });
    const started = Date.now();
    const error = await tokenError(client.get(customersPath(sandbox())));
    const elapsed = Date.now() - started;
    expect(error.code).toBe('token_request_failed');
    expect(error.message).toContain(`timed out after ${tokenTimeoutMs} ms`);
    expect(sandbox().token.count).toBe(2);
    expect(sandbox().token.requests.map((r) => r.status)).toEqual([200, 200]); // headers were sent
    expect(elapsed).toBeGreaterThanOrEqual(2 * tokenTimeoutMs - 5);
    // Backoff: tokenRequest.retryDelayMs 5 (+20 % jitter) before the one retry.
    expect(elapsed).toBeLessThan(2 * tokenTimeoutMs + 6 + SCHEDULING_MARGIN_MS);
    expect(sandbox().api.count).toBe(0);
  });

  test('each attempt gets a fresh deadline: a retry after a cut-off trickle succeeds', async () => {
    const client = createServiceTitanClient(authOptions(sandbox(), { tokenRequest: { timeoutMs: 500, retries: 1 } }));
    sandbox().token.enqueue({ trickleMs: 50 });
    expect((await client.get(customersPath(sandbox()))).status).toBe(200);
    expect(sandbox().token.count).toBe(2);
    expect(sandbox().tokensIssued).toBe(1);
  });

  test('the backoff after a deadline hit is still waited out', async () => {
    const client = createServiceTitanClient(
      authOptions(sandbox(), { tokenRequest: { timeoutMs: 300, retries: 1, retryDelayMs: 1_000 } }),
    );
    sandbox().token.enqueue({ trickleMs: 50 });
    await client.auth.getToken();
    const [first, second] = sandbox().token.requests;
    // At least the 1 s backoff (the deadline started a little before the first one arrived);
    // were the backoff skipped because the spent deadline had aborted, the gap would be ~300 ms.
    expect(second!.at - first!.at).toBeGreaterThanOrEqual(1_000);
  });

  test('a hang before the headers is cut at the deadline too', async () => {
    const client = createServiceTitanClient(authOptions(sandbox(), { tokenRequest: { timeoutMs: 300, retries: 0 } }));
    sandbox().token.enqueue({ hang: true });
    const error = await tokenError(client.auth.getToken());
    expect(error.message).toContain('timed out after 300 ms');
    expect(sandbox().token.count).toBe(1);
  });
});

describe('G13: under createTenantClients a trickling tenant does not block the others beyond the bound', () => {
  const clients: SandboxCredentials[] = [
    { clientId: 'cid.slow', clientSecret: 'cs1.slow-secret', tenantId: '1000' },
    { clientId: 'cid.fast', clientSecret: 'cs1.fast-secret', tenantId: '1001' },
  ];
  const sandbox = useSandbox({ clients });

  test('with one shared token slot, the second tenant gets its token once the first attempt hits its deadline', async () => {
    const tokenTimeoutMs = 500;
    const tenants = createTenantClients({
      environment: sandbox().environment,
      appKey: sandbox().appKey,
      credentials: (tenantId) => clients.find((c) => c.tenantId === tenantId)!,
      tokenConcurrency: 1,
      tokenRequest: { timeoutMs: tokenTimeoutMs, retries: 0 },
    });
    const isSlow = (r: { clientId?: string }) => r.clientId === 'cid.slow';
    sandbox().token.enqueue({ trickleMs: 50, match: isSlow });
    const hold = sandbox().token.hold(isSlow);
    const slow = tokenError((await tenants.forTenant(1000)).get('/crm/v2/tenant/{tenant}/customers'));
    await hold.untilWaiting(1);
    const fast = (await tenants.forTenant(1001)).get('/crm/v2/tenant/{tenant}/customers');
    await flushIo(20);
    expect(sandbox().token.count).toBe(1); // the fast tenant waits for the shared slot

    const released = Date.now();
    hold.release();
    expect((await fast).status).toBe(200);
    // The slow tenant's attempt, then the fast tenant's own, each bounded by its deadline.
    expect(Date.now() - released).toBeLessThan(2 * tokenTimeoutMs + SCHEDULING_MARGIN_MS);
    expect((await slow).message).toContain(`timed out after ${tokenTimeoutMs} ms`);
    expect(sandbox().token.requests.map((r) => r.clientId)).toEqual(['cid.slow', 'cid.fast']);
  });
});

describe('G13: token answers are capped at 64 KiB', () => {
  const sandbox = useSandbox();
  const megabytes = (bytes: number) => Math.round((bytes / 1024 / 1024) * 10) / 10;

  test.each([
    ['chunked', {}],
    ['with a Content-Length', { 'content-length': String(200 * 1024 * 1024) }],
  ])(
    'a 200 MB answer (%s) is invalid_token_response naming the cap, not retried, and read no further',
    async (_name, headers) => {
      const client = createServiceTitanClient(authOptions(sandbox(), { tokenRequest: { timeoutMs: 30_000 } }));
      sandbox().token.enqueue({ largeBodyBytes: 200 * 1024 * 1024, headers });
      const before = process.memoryUsage.rss();
      let peak = before;
      const sampler = setInterval(() => {
        peak = Math.max(peak, process.memoryUsage.rss());
      }, 5);
      const error = await tokenError(client.auth.getToken());
      clearInterval(sampler);
      peak = Math.max(peak, process.memoryUsage.rss());
      expect(error.code).toBe('invalid_token_response');
      expect(error.message).toContain(`more than ${MAX_TOKEN_RESPONSE_BYTES} bytes`);
      expect(sandbox().token.count).toBe(1);
      const growth = peak - before;
      if (process.env['REPORT_RSS'] !== undefined) {
        process.stderr.write(`RSS growth with a 200 MB token answer (${_name}): ${megabytes(growth)} MB\n`);
      }
      expect(growth).toBeLessThan(50 * 1024 * 1024);
    },
  );

  test('an answer just under the cap is read and used', async () => {
    const client = createServiceTitanClient(authOptions(sandbox()));
    sandbox().token.enqueue({ largeBodyBytes: MAX_TOKEN_RESPONSE_BYTES - 1 });
    const token = await client.auth.getToken();
    expect(token).toMatch(/^a+$/);
    expect(sandbox().token.count).toBe(1);
  });
});
