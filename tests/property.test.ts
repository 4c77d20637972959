/**
 * Property test: random interleavings of concurrent requests, revocations, token-endpoint faults,
 * API faults and clock jumps, each run against a fresh sandbox, with the guarantees of
 * DESIGN.md checked as invariants after every run.
 *
 * A failure prints fast-check's seed and path; replay it with
 *   FC_SEED=<seed> FC_PATH=<path> npx jest tests/property.test.ts
 * and run more cases locally with PROPERTY_RUNS=500.
 */
import { AxiosError, isCancel } from 'axios';
import fc from 'fast-check';
import { createServiceTitanClient, isServiceTitanAuthError, type ServiceTitanClient } from '../src';
import { startSandbox, type Sandbox } from '../src/testing';
import { fakeDateOnly, flushIo, startForeignServer, type ForeignServer } from './helpers/sandbox';

const NUM_RUNS = Number(process.env['PROPERTY_RUNS'] ?? 60);
const TOKEN_LIFETIME_MS = 900_000; // the sandbox's default, as ServiceTitan
const REFRESH_BUFFER_MS = 60_000; // the library's default refreshBufferMs
/** A clock move at least this large may start a new renewal epoch (see the token bound below). */
const BIG_JUMP_MS = 60_000;
const TICK_MAX_MS = 2_000;
/** Past the longest default cooldown a recovery can meet: `renewalCooldownMs` (10 s). */
const RECOVERY_TICK_MS = 10_001;
const MAX_ACTIONS = 14;

// ---------------------------------------------------------------------------------------------
// Actions

type Action =
  /** `size` concurrent GETs to the API, `foreign` absolute-URL GETs to a foreign origin, of which `aborts` are aborted early. */
  | { kind: 'batch'; size: number; foreign: number; aborts: number; wait: boolean }
  | { kind: 'revoke' }
  /** One request served (its token accepted by the API), then every token revoked. */
  | { kind: 'serveThenRevoke' }
  | { kind: 'tokenFault'; fault: TokenFault; times: number }
  | { kind: 'apiFault'; fault: ApiFault; times: number }
  | { kind: 'clock'; ms: number };

type TokenFault = { status: 500 | 502 | 503 } | { status: 429; retryAfterMs: 0 | 1_000 | 'absent' } | { reset: true };
type ApiFault = 401 | 503 | 429 | 'reset' | 'redirect';

const batchArb = fc.record({
  kind: fc.constant('batch' as const),
  size: fc.integer({ min: 1, max: 20 }),
  foreign: fc.integer({ min: 0, max: 3 }),
  aborts: fc.oneof({ arbitrary: fc.constant(0), weight: 3 }, { arbitrary: fc.integer({ min: 1, max: 2 }), weight: 1 }),
  wait: fc.boolean(),
});

const tokenFaultArb = fc.record({
  kind: fc.constant('tokenFault' as const),
  fault: fc.oneof(
    fc.record({ status: fc.constantFrom(500 as const, 502 as const, 503 as const) }),
    // Retry-After 0 is retried at once; 1 s is above tokenRequest.maxRetryAfterMs, so it fails the fetch and
    // starts a cooldown (Date is fake, so the cooldown lasts until the next clock move).
    fc.record({
      status: fc.constant(429 as const),
      retryAfterMs: fc.constantFrom(0 as const, 1_000 as const, 'absent' as const),
    }),
    fc.constant({ reset: true as const }),
  ),
  times: fc.integer({ min: 1, max: 4 }),
});

const apiFaultArb = fc.oneof(
  fc.record({
    kind: fc.constant('apiFault' as const),
    fault: fc.constant(401 as const),
    times: fc.integer({ min: 1, max: 2 }),
  }),
  fc.record({
    kind: fc.constant('apiFault' as const),
    fault: fc.constantFrom(503 as const, 429 as const, 'reset' as const, 'redirect' as const),
    times: fc.integer({ min: 1, max: 3 }),
  }),
);

const clockArb = fc.record({
  kind: fc.constant('clock' as const),
  ms: fc.oneof(
    fc.integer({ min: 1, max: TICK_MAX_MS }), // a tick: ends cooldowns, too small to reach the renewal window
    fc.integer({ min: TOKEN_LIFETIME_MS - REFRESH_BUFFER_MS + 1_000, max: TOKEN_LIFETIME_MS - 1_000 }), // into the renewal window
    fc.integer({ min: TOKEN_LIFETIME_MS, max: TOKEN_LIFETIME_MS + 120_000 }), // past expiry
  ),
});

/** Random actions, then a final batch, so that every run sends requests after the last action. */
const actionsArb: fc.Arbitrary<Action[]> = fc
  .tuple(
    fc.array(
      fc.oneof(
        { arbitrary: batchArb, weight: 5 },
        { arbitrary: fc.constant({ kind: 'revoke' as const }), weight: 1 },
        { arbitrary: fc.constant({ kind: 'serveThenRevoke' as const }), weight: 2 },
        { arbitrary: tokenFaultArb, weight: 2 },
        { arbitrary: apiFaultArb, weight: 2 },
        { arbitrary: clockArb, weight: 2 },
      ),
      { maxLength: MAX_ACTIONS - 1 },
    ),
    batchArb,
  )
  .map(([actions, last]) => [...actions, last]);

// ---------------------------------------------------------------------------------------------
// Unhandled rejections
//
// Under Jest 30 a `process.on('unhandledRejection')` listener added in a test never fires: the
// test's `process` is a copy, and jest-circus owns the real process's listener, which records
// each unhandled rejection on the running test (and fails it once the test ends). To catch one
// per run, so that fast-check can report and shrink the run, we read that record. If jest-circus
// internals change, the probe reports nothing and Jest still fails the test as a whole.

interface RejectionProbe {
  count(): number;
}

function unhandledRejectionProbe(): RejectionProbe {
  const symbol = Object.getOwnPropertySymbols(globalThis).find((s) => s.description === 'JEST_STATE_SYMBOL');
  const state = symbol === undefined ? undefined : (globalThis as Record<symbol, unknown>)[symbol];
  const test = (state as { currentlyRunningTest?: { unhandledRejectionErrorByPromise?: unknown } } | undefined)
    ?.currentlyRunningTest;
  const map = test?.unhandledRejectionErrorByPromise;
  if (!(map instanceof Map)) return { count: () => 0 };
  const before = new Set(map.keys());
  return { count: () => [...map.keys()].filter((promise) => !before.has(promise)).length };
}

// ---------------------------------------------------------------------------------------------
// One run

type Outcome = string; // 'ok', 'http 503', 'auth token_request_failed', 'canceled', 'network ECONNRESET', …

/** Outcomes a request may end with under the injected faults; anything else is a bug. */
const EXPECTED_OUTCOMES = new Set<Outcome>([
  'ok',
  'http 401', // a second 401 goes to the caller
  'http 429',
  'http 503',
  'network ECONNRESET', // an API connection reset, when API retries are off or spent
  'auth token_request_failed',
  'auth rate_limited',
  'canceled',
]);

function outcomeOf(error: unknown): Outcome {
  if (isCancel(error)) return 'canceled';
  if (isServiceTitanAuthError(error)) return `auth ${error.code}`;
  if (error instanceof AxiosError) {
    if (error.response !== undefined) return `http ${error.response.status}`;
    return `network ${error.code ?? error.message}`;
  }
  return `unexpected ${String(error)}`;
}

interface RequestInfo {
  id: string;
  foreign: boolean;
  aborted: boolean;
  outcome?: Outcome;
  /** Order of events on the client: when the request was sent, and when it settled. */
  sentAt: number;
  settledAt?: number;
}

interface Tally {
  revocations: number;
  bigClockMoves: number;
  api401Uses: number;
  tokenFaultUses: number;
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: still pending after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

const advanceClock = (ms: number) => jest.setSystemTime(Date.now() + ms);

let runNumber = 0;

/** API retries (createServiceTitanClient's default) on or off: they add hits, never replays. */
const API_RETRIES = 3;

interface Scenario {
  apiRetries: boolean;
  actions: readonly Action[];
}

async function runScenario({ apiRetries, actions }: Scenario, foreign: ForeignServer): Promise<void> {
  runNumber += 1;
  const run = runNumber;
  const probe = unhandledRejectionProbe();
  fakeDateOnly();
  // The sandbox's and the client's 60/s rate limits are off: this is about auth, and a run fires
  // up to a few hundred requests.
  const sandbox: Sandbox = await startSandbox({ rateLimit: false, reportRateLimit: false });
  const foreignSeenBefore = foreign.received.length;
  const client: ServiceTitanClient = createServiceTitanClient({
    ...sandbox.clientOptions,
    // Waits on real timers are shortened; every cooldown (failure, 429, renewal hold-back) keeps
    // the default a user gets: they are measured on Date, which the run moves.
    tokenRequest: { retryDelayMs: 1, maxRetryAfterMs: 50 },
    rateLimit: false,
    retry: apiRetries ? { retries: API_RETRIES, retryDelayMs: 1 } : false,
  });

  const requests: RequestInfo[] = [];
  const inFlight: Promise<void>[] = [];
  let started = 0;
  let settled = 0;
  let events = 0;
  const tally: Tally = { revocations: 0, bigClockMoves: 0, api401Uses: 0, tokenFaultUses: 0 };

  const send = (isForeign: boolean, abort: boolean): void => {
    const info: RequestInfo = {
      id: `run${run}-req${requests.length}`,
      foreign: isForeign,
      aborted: abort,
      sentAt: (events += 1),
    };
    requests.push(info);
    const controller = abort ? new AbortController() : undefined;
    const url = isForeign ? `${foreign.url}/foreign/${info.id}` : '/crm/v2/tenant/{tenant}/customers';
    started += 1;
    const promise = client
      .get(url, {
        params: isForeign ? {} : { pageSize: 1 },
        headers: { 'X-Request-Id': info.id },
        ...(controller ? { signal: controller.signal } : {}),
      })
      .then(
        () => {
          info.outcome = 'ok';
        },
        (error: unknown) => {
          info.outcome = outcomeOf(error);
        },
      )
      .finally(() => {
        settled += 1;
        info.settledAt = events += 1;
      });
    inFlight.push(promise);
    if (controller) setImmediate(() => controller.abort());
  };

  try {
    for (const action of actions) {
      switch (action.kind) {
        case 'batch': {
          const batch = inFlight.length;
          for (let i = 0; i < action.size; i += 1) send(false, i < action.aborts);
          for (let i = 0; i < action.foreign; i += 1) send(true, false);
          if (action.wait) await Promise.all(inFlight.slice(batch));
          else await flushIo(1);
          break;
        }
        case 'revoke':
          sandbox.revokeAllTokens();
          tally.revocations += 1;
          break;
        case 'serveThenRevoke': {
          const served = inFlight.length;
          send(false, false);
          await inFlight[served];
          sandbox.revokeAllTokens();
          tally.revocations += 1;
          break;
        }
        case 'tokenFault':
          sandbox.token.enqueue({ ...action.fault, times: action.times });
          tally.tokenFaultUses += action.times;
          break;
        case 'apiFault': {
          const { fault, times } = action;
          if (fault === 'reset') sandbox.api.enqueue({ reset: true, times });
          else if (fault === 'redirect') sandbox.api.enqueue({ redirectTo: `${foreign.url}/redirected`, times });
          else sandbox.api.enqueue({ status: fault, times, ...(fault === 429 ? { retryAfterMs: 0 } : {}) });
          if (fault === 401) tally.api401Uses += times;
          break;
        }
        case 'clock':
          advanceClock(action.ms);
          if (action.ms >= BIG_JUMP_MS) tally.bigClockMoves += 1;
          break;
      }
    }

    // Invariant 1: every request settles (resolved or rejected); nothing is left pending.
    await withTimeout(Promise.allSettled(inFlight), 10_000, `${started - settled} of ${started} requests`);
    await flushIo(3);
    expect(settled).toBe(started);
    expect(requests.filter((r) => r.outcome === undefined)).toEqual([]);

    // Outcomes are all ones the injected faults can explain (no 403, no invalid_token_response,
    // no TypeError, …); foreign requests never touch the token and always succeed.
    const unexpected = requests.filter((r) => !EXPECTED_OUTCOMES.has(r.outcome!));
    expect(unexpected).toEqual([]);
    expect(requests.filter((r) => r.foreign && r.outcome !== 'ok')).toEqual([]);

    // Invariant 2: at most one replay per request (guarantee 3). Hits are grouped by X-Request-Id;
    // a hit that follows a 401 of the same request is a replay (API retries never retry a 401).
    // Without API retries that means ≤ 2 hits per request; with them, ≤ 2 × (1 + retries).
    // And a 401 that reaches the caller is the replay's (the request saw two 401s), or one held
    // back (a single 401): see invariant 2b.
    const log = sandbox.api.requests;
    expect(log.length).toBe(sandbox.api.count); // the log is complete (well under requestLogLimit)
    const hits = new Map<string, (number | undefined)[]>();
    const tokensOf = new Map<string, (string | undefined)[]>();
    for (const record of log) {
      const id = record.headers['x-request-id'];
      expect(typeof id).toBe('string');
      hits.set(id as string, [...(hits.get(id as string) ?? []), record.status]);
      tokensOf.set(id as string, [...(tokensOf.get(id as string) ?? []), record.tokenId]);
    }
    const maxHits = apiRetries ? 2 * (1 + API_RETRIES) : 2;
    const replays = (statuses: (number | undefined)[]) => statuses.slice(0, -1).filter((s) => s === 401).length;
    const overReplayed = [...hits].filter(([, statuses]) => statuses.length > maxHits || replays(statuses) > 1);
    expect(overReplayed).toEqual([]);
    const count401 = (r: RequestInfo) => hits.get(r.id)?.filter((s) => s === 401).length ?? 0;
    expect(requests.filter((r) => r.outcome === 'http 401' && count401(r) !== 1 && count401(r) !== 2)).toEqual([]);

    // Invariant 2b (guarantee 3): a token the API has accepted is renewed on a later 401, however
    // soon. A 401 that reached the caller without a replay (held back) carried a token that no
    // request had been answered with a success before this request was sent.
    const acceptedAt = new Map<string, number>(); // token id → when a success with it first settled
    for (const r of requests) {
      const tokens = tokensOf.get(r.id);
      const last = tokens?.at(-1);
      if (r.outcome !== 'ok' || r.foreign || last === undefined || r.settledAt === undefined) continue;
      acceptedAt.set(last, Math.min(acceptedAt.get(last) ?? Infinity, r.settledAt));
    }
    const heldBackDespiteAcceptance = requests.filter((r) => {
      if (r.outcome !== 'http 401' || count401(r) !== 1) return false;
      const statuses = hits.get(r.id)!;
      const token = tokensOf.get(r.id)![statuses.indexOf(401)];
      return token !== undefined && (acceptedAt.get(token) ?? Infinity) < r.sentAt;
    });
    expect(heldBackDespiteAcceptance).toEqual([]);
    expect(requests.filter((r) => r.foreign && hits.has(r.id))).toEqual([]);

    // Invariant 3: token requests are bounded by what the actions can justify.
    //   Every token request either is answered by an injected token fault (each fault use serves
    //   exactly one request, retries included) or returns a token: so
    //     tokenRequests ≤ successfulFetches + tokenFaultUses.
    //   A successful fetch satisfies one "need" for a new token, and needs only arise from
    //     - the first request (no token yet):                                     1
    //     - a revocation (the current token, or one in flight, becomes invalid):  1 each
    //     - an API 401 fault use (the library cannot tell it from a revocation):  1 each
    //     - a big clock move (into the renewal window, or past expiry):           1 each
    //   A failed fetch leaves its need open (nothing bad is cached) for the next success to meet.
    //   M concurrent 401s for one stale token make one renewal (guarantee 3), and the background
    //   renewal in the window is single flight, so no need is met twice. Ticks (≤ 2 s each,
    //   ≤ MAX_ACTIONS of them, so far less than the 840 s it takes a fresh token to reach the
    //   renewal window) only end cooldowns; they cannot create a need of their own.
    const bound = 1 + tally.revocations + tally.api401Uses + tally.bigClockMoves + tally.tokenFaultUses;
    expect(sandbox.token.count).toBeLessThanOrEqual(bound);

    // Invariant 4: the foreign origin (absolute URLs and redirects from the API) never saw the
    // token or the app key.
    const leaked = foreign.received
      .slice(foreignSeenBefore)
      .filter((h) => h['authorization'] !== undefined || h['st-app-key'] !== undefined);
    expect(leaked).toEqual([]);

    // Invariant 5: no unhandled rejection.
    expect(probe.count()).toBe(0);

    // Invariant 6 (guarantee 5, liveness): nothing bad is cached. Once every queued fault is used
    // up, requests succeed again. Each failed attempt uses at least one fault (a cooldown or a
    // revoked token cannot fail a request twice: the clock moves past any cooldown, the renewal
    // hold-back included, and a renewal after a 401 mints a token issued after the revocations).
    const pendingFaults = sandbox.api.pendingFaults + sandbox.token.pendingFaults;
    let recovered = false;
    for (let attempt = 0; attempt <= pendingFaults + 1 && !recovered; attempt += 1) {
      advanceClock(RECOVERY_TICK_MS);
      try {
        await withTimeout(
          client.get('/crm/v2/tenant/{tenant}/customers', {
            params: { pageSize: 1 },
            headers: { 'X-Request-Id': `run${run}-recovery${attempt}` },
          }),
          10_000,
          'recovery request',
        );
        recovered = true;
      } catch (error) {
        if (error instanceof Error && error.message.includes('still pending')) throw error;
      }
    }
    expect(recovered).toBe(true);
    await flushIo(3);
    expect(probe.count()).toBe(0);
  } finally {
    await sandbox.close();
    jest.useRealTimers();
  }
}

// ---------------------------------------------------------------------------------------------

describe('property: random interleavings of requests, revocations, faults and clock jumps', () => {
  let foreign: ForeignServer;
  beforeAll(async () => {
    foreign = await startForeignServer();
  });
  afterAll(async () => {
    await foreign.close();
  });

  test('every request settles, ≤ 1 replay each, bounded token requests, no leak, no unhandled rejection', async () => {
    const seed = process.env['FC_SEED'];
    const path = process.env['FC_PATH'];
    await fc.assert(
      fc.asyncProperty(fc.record({ apiRetries: fc.boolean(), actions: actionsArb }), (scenario) =>
        runScenario(scenario, foreign),
      ),
      {
        numRuns: NUM_RUNS,
        ...(seed === undefined ? {} : { seed: Number(seed) }),
        ...(path === undefined ? {} : { path }),
      },
    );
  }, 120_000);
});
