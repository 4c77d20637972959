import { getEventListeners } from 'node:events';
import { isAxiosError, isCancel } from 'axios';
import { createServiceTitanClient } from '../src';
import { DEADLINE_TICK_MS, liveTicks, MAX_TICK_MEMBERS, type DeadlineTick } from '../src/rate-limit/deadline-ticks';
import type { SandboxRequestRecord } from '../src/testing';
import { authOptions, customersPath, useSandbox } from './helpers/sandbox';

const PER_KIND = 10;
/**
 * Every request's timeout: time enough, on a loaded machine, for all of them to reach the server
 * and for those answered or aborted to finish, before the deadline ends the rest.
 */
const TIMEOUT_MS = 3_000;

const kindOf = (request: SandboxRequestRecord) => request.query['kind'];
const abortListeners = (tick: DeadlineTick) => getEventListeners(tick.controller.signal, 'abort');

/** Every tick ends with no member and no abort listener of ours, and none of them is live any more. */
function expectLeftAndDropped(ticks: readonly DeadlineTick[], before: ReadonlySet<DeadlineTick>): void {
  for (const tick of ticks) {
    expect({ members: tick.members, listeners: abortListeners(tick) }).toEqual({ members: 0, listeners: [] });
  }
  expect(liveTicks().filter((tick) => !before.has(tick))).toEqual([]);
}

/** What a request ended with: its status, or how it failed. */
async function outcome(request: Promise<{ status: number }>): Promise<string> {
  try {
    return String((await request).status);
  } catch (error) {
    if (isCancel(error)) return 'canceled';
    if (isAxiosError(error)) return error.code === 'ECONNABORTED' ? 'timeout' : String(error.response?.status);
    throw error;
  }
}

// src/rate-limit/deadline-ticks.ts: the requests whose deadlines fall in one 10 ms tick share its
// AbortSignal, with no listener limit (setMaxListeners(0)), so a listener left behind would leak
// without a warning. Every way a request ends must take its listeners (the library's, and the
// axios adapter's it hands the signal to) off the tick, and the tick must be let go.
describe('a shared deadline tick ends with no listeners and is dropped', () => {
  const sandbox = useSandbox();

  /**
   * Starts PER_KIND requests of each kind, all with the same timeout (so their deadlines share a
   * tick or two), from a cold client (the token wait is within the deadline too). `ok`,
   * `retried` and `aborted` are held at the server; `error` is answered 400 at once; `retried` is
   * answered 503 once, then 200 after the retry's delay; `late` (when asked for) is held until its
   * deadline.
   */
  const startRequests = (kinds: string[]) => {
    const client = createServiceTitanClient({ ...authOptions(sandbox()), rateLimit: false, retry: { retries: 1 } });
    sandbox().api.enqueue(
      { match: (request) => kindOf(request) === 'error', status: 400, times: PER_KIND },
      // Once, then answered: the retry's delay waits on the tick too.
      { match: (request) => kindOf(request) === 'retried', status: 503, retryAfterMs: 'absent', times: PER_KIND },
    );
    const holdOk = sandbox().api.hold((request) => ['ok', 'retried'].includes(kindOf(request) ?? ''));
    const holdRest = sandbox().api.hold((request) => ['aborted', 'late'].includes(kindOf(request) ?? ''));
    const user = new AbortController();
    const requests = kinds.flatMap((kind) =>
      Array.from({ length: PER_KIND }, () =>
        outcome(
          client.get(customersPath(sandbox()), {
            params: { kind },
            timeout: TIMEOUT_MS,
            ...(kind === 'aborted' ? { signal: user.signal } : {}),
          }),
        ),
      ),
    );
    return { holdOk, holdRest, user, requests };
  };

  test('answered, refused, retried, aborted by the caller and timed out: no listener left, the tick dropped when it fires', async () => {
    const before = new Set(liveTicks());
    const { holdOk, holdRest, user, requests } = startRequests(['ok', 'error', 'retried', 'aborted', 'late']);
    try {
      await holdOk.untilWaiting(2 * PER_KIND, { timeoutMs: TIMEOUT_MS });
      await holdRest.untilWaiting(2 * PER_KIND, { timeoutMs: TIMEOUT_MS });
      const ticks = liveTicks().filter((tick) => !before.has(tick));
      // Made together: their deadlines share a tick or two (a slow machine may spread them).
      expect(ticks.length).toBeGreaterThanOrEqual(1);
      expect(ticks.length).toBeLessThanOrEqual(4);
      // The 40 held requests are members of their ticks and listen on them: the adapter for each
      // held exchange, a forwarder for each request with a signal of its own.
      expect(ticks.reduce((sum, tick) => sum + tick.members, 0)).toBe(4 * PER_KIND);
      expect(ticks.reduce((sum, tick) => sum + abortListeners(tick).length, 0)).toBe(4 * PER_KIND);

      holdOk.release();
      user.abort();
      const outcomes = await Promise.all(requests);
      expect(outcomes).toEqual(
        ['200', '400', '200', 'canceled', 'timeout'].flatMap((result) => Array<string>(PER_KIND).fill(result)),
      );
      // The late ones' ticks fired (those all of whose requests had left before were let go).
      expect(ticks.some((tick) => tick.controller.signal.aborted)).toBe(true);
      expectLeftAndDropped(ticks, before);
    } finally {
      holdOk.release();
      holdRest.release();
    }
  }, 30_000);

  test('answered, refused, retried and aborted by the caller: the last to leave drops the tick long before its deadline', async () => {
    const before = new Set(liveTicks());
    const { holdOk, holdRest, user, requests } = startRequests(['ok', 'error', 'retried', 'aborted']);
    try {
      await holdOk.untilWaiting(2 * PER_KIND, { timeoutMs: TIMEOUT_MS });
      await holdRest.untilWaiting(PER_KIND, { timeoutMs: TIMEOUT_MS });
      const ticks = liveTicks().filter((tick) => !before.has(tick));
      expect(ticks.length).toBeGreaterThanOrEqual(1);
      expect(ticks.reduce((sum, tick) => sum + abortListeners(tick).length, 0)).toBe(3 * PER_KIND);

      holdOk.release();
      user.abort();
      const outcomes = await Promise.all(requests);
      expect(outcomes).toEqual(
        ['200', '400', '200', 'canceled'].flatMap((result) => Array<string>(PER_KIND).fill(result)),
      );
      // Not by firing: no request waits on it any more, so it is let go (the shared timer then
      // finds nothing to end).
      for (const tick of ticks) expect(tick.controller.signal.aborted).toBe(false);
      expectLeftAndDropped(ticks, before);
    } finally {
      holdOk.release();
      holdRest.release();
    }
  }, 30_000);
});

// Node's EventTarget walks a signal's whole listener list to add or remove a listener: with every
// request of a burst on one signal (a cold start makes all its first requests within one tick),
// each add and remove cost in proportion to the burst, quadratic in all (~0.17 s of a 2,000-tenant
// cold start). A tick's signal takes at most MAX_TICK_MEMBERS requests; more get another signal
// of the same tick, and every one of them fires at the tick's end.
describe('a burst of requests whose deadlines share a tick spreads over signals of at most MAX_TICK_MEMBERS', () => {
  const sandbox = useSandbox();
  const BURST = 200;

  test(`${BURST} requests made at once, waiting for a held token: no signal carries more than ${MAX_TICK_MEMBERS} of them, and all time out at their deadline`, async () => {
    const client = createServiceTitanClient({ ...authOptions(sandbox()), rateLimit: false, retry: false });
    const hold = sandbox().token.hold();
    const before = new Set(liveTicks());
    const started = performance.now();
    try {
      // Made in one synchronous loop: their deadlines fall in one tick, two on a slow machine.
      const requests = Array.from({ length: BURST }, () =>
        outcome(client.get(customersPath(sandbox()), { timeout: TIMEOUT_MS })),
      );
      await hold.untilWaiting(1, { timeoutMs: TIMEOUT_MS });
      // Each request's deadline counts from its first interceptor, run once the loop is done.
      const madeBy = performance.now();
      // The requests' ticks, not the token request's (its own deadline, 10 s on).
      const ofBurst = (tick: DeadlineTick) =>
        tick.key * DEADLINE_TICK_MS >= started + TIMEOUT_MS &&
        tick.key * DEADLINE_TICK_MS <= madeBy + TIMEOUT_MS + DEADLINE_TICK_MS;
      const ticks = liveTicks().filter((tick) => !before.has(tick) && ofBurst(tick));
      // Every request waits for the token within its deadline: a member of one signal each.
      expect(ticks.reduce((sum, tick) => sum + tick.members, 0)).toBe(BURST);
      expect(Math.max(...ticks.map((tick) => tick.members))).toBeLessThanOrEqual(MAX_TICK_MEMBERS);
      expect(Math.max(...ticks.map((tick) => abortListeners(tick).length))).toBeLessThanOrEqual(2 * MAX_TICK_MEMBERS);
      // Filled in turn: each tick has as few signals as its members need (at most one not full).
      for (const key of new Set(ticks.map((tick) => tick.key))) {
        const signals = ticks.filter((tick) => tick.key === key);
        const members = signals.reduce((sum, tick) => sum + tick.members, 0);
        expect(signals.length).toBe(Math.ceil(members / MAX_TICK_MEMBERS));
      }

      const outcomes = await Promise.all(requests);
      expect(outcomes).toEqual(Array<string>(BURST).fill('timeout'));
      expect(performance.now() - started).toBeGreaterThanOrEqual(TIMEOUT_MS - 1);
      // Every signal of the tick fired, not only the one the first requests joined.
      for (const tick of ticks) expect(tick.controller.signal.aborted).toBe(true);
      for (const tick of ticks)
        expect({ members: tick.members, listeners: abortListeners(tick) }).toEqual({ members: 0, listeners: [] });
      expect(liveTicks().filter(ofBurst)).toEqual([]);
      expect(sandbox().api.count).toBe(0);
    } finally {
      hold.release();
    }
  }, 30_000);
});
