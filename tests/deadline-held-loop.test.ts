import { createServiceTitanClient } from '../src';
import { holdEventLoop } from './helpers/hold-event-loop';
import { useSandboxProcess } from './helpers/sandbox-process';

// A request's deadline ends it when the answer has not come, not when the process was not
// running to read it. Node runs due timers before it reads sockets: a process held past a
// deadline (starved of CPU, a long GC pause) aborted the request whose answer had arrived in
// time, unread. The sandbox runs in its own process, so it answers while this one is held.
const TIMEOUT_MS = 3_000;

describe('a deadline that passes while the event loop is held', () => {
  const sandbox = useSandboxProcess({ latencyMs: 300 });

  test('the answer that arrived meanwhile is read, not thrown away as a timeout', async () => {
    const client = createServiceTitanClient({ ...sandbox().options, rateLimit: false });
    await client.auth.getToken();
    await sandbox().reset();
    const started = performance.now();
    const request = client
      .get('/crm/v2/tenant/{tenant}/customers', { timeout: TIMEOUT_MS, params: { pageSize: 1 } })
      .then(
        (response) => `answered ${response.status}`,
        (error: unknown) => `failed: ${(error as Error).message}`,
      );
    // Once the sandbox has the request (it answers 300 ms later), this process stops running
    // past the deadline: both the answer and the deadline come while it is held.
    while ((await sandbox().stats()).count === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    const heldFrom = performance.now();
    // Held until half a second past the deadline: the answer (300 ms after arrival) and the
    // deadline both come meanwhile. The hold must begin before the deadline: 3 s leaves a loaded
    // machine time to see the arrival.
    expect(heldFrom - started).toBeLessThan(TIMEOUT_MS);
    holdEventLoop(started + TIMEOUT_MS + 500 - heldFrom);
    expect(await request).toBe('answered 200');
  }, 30_000);
});

// The same for a token request's own deadline (tokenRequest.timeoutMs, per attempt): an answer
// that arrived while the process was held was aborted unread and asked for again (a second
// token request at the endpoint, which ServiceTitan throttles; on a fleet's cold start, with
// event loops held for seconds, token requests failed by the thousand).
describe('a token request whose deadline passes while the event loop is held', () => {
  const sandbox = useSandboxProcess({ tokenLatencyMs: 300 });

  test('the token that arrived meanwhile is used; the endpoint is asked once', async () => {
    const client = createServiceTitanClient({
      ...sandbox().options,
      rateLimit: false,
      tokenRequest: { timeoutMs: TIMEOUT_MS },
    });
    const started = performance.now();
    const token = client.auth.getToken().then(
      () => 'token',
      (error: unknown) => `failed: ${(error as Error).message}`,
    );
    while ((await sandbox().records()).token.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    const heldFrom = performance.now();
    expect(heldFrom - started).toBeLessThan(TIMEOUT_MS);
    holdEventLoop(started + TIMEOUT_MS + 500 - heldFrom);
    expect(await token).toBe('token');
    expect((await sandbox().records()).token).toHaveLength(1);
  }, 30_000);
});
