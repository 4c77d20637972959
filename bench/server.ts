/**
 * The benchmark's server process: starts the ServiceTitan sandbox (from ../src/testing) and
 * prints its URLs and credentials as one JSON line on stdout. When started with
 * `child_process.fork` it also obeys control messages over IPC (hold / release / revoke /
 * counters / faults), so the harness can drive it from another process.
 *
 *   node --import tsx bench/server.ts '{"tokenLifetimeMs":4000}'   # standalone: prints the JSON line
 *   node --import tsx bench/server.ts @options.json                # the options from a file
 *   node --import tsx bench/server.ts @options.json --busy-poll    # its event loop never sleeps (below)
 *
 * A file, because thousands of tenants' credentials do not fit in one argument (Linux caps one at 128 KiB).
 */
import { readFileSync } from 'node:fs';
import { startSandbox, type Hold, type SandboxOptions } from '../src/testing';
import { maxInAnyWindow } from '../src/testing/rate-limit';
import type { ControlReply, ControlRequest, ServerInfo, TenantCounters } from './protocol';
import { lateTicksBefore, watchLateTicks } from '../tests/helpers/late-ticks';

const argument = process.argv[2] ?? '{}';
const overrides = JSON.parse(
  argument.startsWith('@') ? readFileSync(argument.slice(1), 'utf8') : argument,
) as SandboxOptions;
const sandbox = await startSandbox({ rateLimit: false, reportRateLimit: false, requestLogLimit: 0, ...overrides });

const info: ServerInfo = {
  authUrl: sandbox.authUrl,
  apiUrl: sandbox.apiUrl,
  clientId: sandbox.clientId,
  clientSecret: sandbox.clientSecret,
  tenantId: sandbox.tenantId,
  appKey: sandbox.appKey,
  pid: process.pid,
};
process.stdout.write(`${JSON.stringify(info)}\n`);

/**
 * `--busy-poll`: the event loop polls without ever blocking (an immediate that re-arms itself),
 * so this process is never asleep when a request arrives. Over loopback the kernel wakes a
 * sleeping server in the client's `write` and charges the wake-up (an inter-processor interrupt
 * on a VM) to the client's system time: a client that leaves the server idle more often pays
 * more per request for work that is not its own (docs/performance.md, "The client's own path").
 * A remote API is woken by its network card, never by the client's CPU.
 */
if (process.argv.includes('--busy-poll')) {
  const poll = (): void => {
    setImmediate(poll);
  };
  poll();
}

let hold: Hold | undefined;

const late = watchLateTicks(Date.now());

/** The most the event loop ran late in the second before any of these moments (0 if never). */
function latenessBefore(moments: readonly number[]): number {
  const lateMs = moments.flatMap((at) => lateTicksBefore(late.ticks, at).map(([, ms]) => ms));
  return Math.max(0, ...lateMs);
}

async function handle(request: ControlRequest): Promise<unknown> {
  switch (request.cmd) {
    case 'counters':
      return {
        token: sandbox.token.count,
        api: sandbox.api.count,
        tokensIssued: sandbox.tokensIssued,
        apiRateLimited: sandbox.api.rateLimited,
        apiMaxInFlight: sandbox.api.maxInFlight,
        cpuMicros: process.cpuUsage().user + process.cpuUsage().system,
      };
    case 'reset':
      sandbox.resetCounters();
      return null;
    case 'tenantCounters':
      return tenantCounters();
    case 'hold':
      hold?.release();
      hold = sandbox.api.hold();
      return null;
    case 'untilWaiting':
      await hold?.untilWaiting(request.count);
      return hold?.waiting ?? 0;
    case 'release':
      hold?.release();
      hold = undefined;
      return null;
    case 'revokeAll':
      sandbox.revokeAllTokens();
      return null;
    case 'delayNextToken':
      sandbox.token.enqueue({ delayMs: request.delayMs });
      return null;
    case 'tokenLatency':
      // Every later token request is answered `delayMs` after it arrives (a token endpoint's own time).
      sandbox.token.enqueue({ delayMs: request.delayMs, times: Number.MAX_SAFE_INTEGER });
      return null;
    case 'apiLatency':
      // A delay-only fault answers normally after the delay: a server-side latency for every API call.
      sandbox.api.enqueue({ delayMs: request.delayMs, times: Number.MAX_SAFE_INTEGER });
      return null;
    case 'close':
      hold?.release();
      await sandbox.close();
      setImmediate(() => process.exit(0));
      return null;
  }
}

const TENANT_IN_PATH = /\/tenant\/([^/]+)\//;

/**
 * Per tenant, the most arrivals in any rolling second, from the request log. Its `at` is whole
 * milliseconds, so two arrivals 999.6 ms apart may read 1000 ms apart: the window is widened to
 * 1001 ms, which may overcount by that margin, never undercount.
 */
function tenantCounters(): TenantCounters {
  const times = new Map<string, number[]>();
  const requests = sandbox.api.requests;
  for (const request of requests) {
    if (request.headers['authorization'] === undefined) continue;
    const tenant = TENANT_IN_PATH.exec(request.path)?.[1];
    if (tenant === undefined) continue;
    let list = times.get(tenant);
    if (list === undefined) times.set(tenant, (list = []));
    list.push(request.at);
  }
  const maxArrivalsPerTenant: Record<string, number> = {};
  for (const [tenant, list] of times) maxArrivalsPerTenant[tenant] = maxInAnyWindow(list, 1001);
  return {
    api: sandbox.api.count,
    rateLimited: sandbox.api.rateLimited,
    serverLateBefore429sMs: latenessBefore(requests.filter((request) => request.status === 429).map((r) => r.at)),
    token: sandbox.token.count,
    maxArrivalsPerTenant,
    logOverflow: Math.max(0, sandbox.api.count - requests.length),
    cpuMicros: process.cpuUsage().user + process.cpuUsage().system,
  };
}

process.on('message', (message: ControlRequest) => {
  handle(message).then(
    (result) => process.send?.({ id: message.id, ok: true, result } satisfies ControlReply),
    (error: unknown) =>
      process.send?.({
        id: message.id,
        ok: false,
        error: error instanceof Error ? error.message : String(error),
      } satisfies ControlReply),
  );
});
// Never outlive the harness.
process.on('disconnect', () => {
  void sandbox.close().finally(() => process.exit(0));
});
