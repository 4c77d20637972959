/**
 * One round of the cold-start benchmark (bench/cold-start.ts), in a fresh process: the library
 * as an application at startup would use it, with both Redis stores on one ioredis connection
 * and one request per tenant, all at once. Prints `result {…}` (a {@link ColdStartRound}), then
 * waits for a line on stdin (the harness reads Redis's figures meanwhile), closes and exits.
 *
 * The library is imported from `config.libraryDir` (../src by default, or a built dist/), so the
 * harness can interleave rounds of two trees (before/after a change). With `config.profileFile`, the cold start
 * alone (not the imports) is recorded with V8's CPU profiler into that file.
 */
import { lookup } from 'node:dns';
import { existsSync, readFile, readFileSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';
import axios from 'axios';
import { Redis } from 'ioredis';
import pLimit from 'p-limit';
import type { SandboxCredentials } from '../src/testing';
import { startPoolProbe } from '../tests/helpers/pool-probe';
import { credentialsByTenant } from '../tests/helpers/tenants';
import { describeError } from './describe-error';

/** What the harness hands the worker (COLD_START_WORKER, JSON). */
export interface ColdStartWorkerConfig {
  /** The library's `src/` (imported through tsx) or a built `dist/`. */
  libraryDir: string;
  /** A JSON file of `{ clientId, clientSecret, tenantId }[]` (too long for an environment variable). */
  tenantsFile: string;
  appKey: string;
  authUrl: string;
  apiUrl: string;
  redisUrl: string;
  /** The ioredis client's `enableAutoPipelining` (the commands of one tick in one write), as docs/fleet-sizing.md advises. */
  autoPipelining: boolean;
  /**
   * `tenant-clients`: createTenantClients (one token limiter of 4 for all); `clients`:
   * createServiceTitanClient per tenant; `axios`: the floor, bare axios doing the same exchanges
   * (a token POST per tenant, 4 at a time, then the GET with it; no store, no limiter).
   */
  factory: 'tenant-clients' | 'clients' | 'axios';
  /** Which Redis stores the clients use (`none`: the in-memory defaults, for comparison). */
  stores: 'both' | 'token' | 'rate-limit' | 'none';
  /**
   * How often the fs/dns probes run (main thread and pool). Each probe round is several system
   * calls and callbacks on the worker's own CPU: at 20 ms, ~0.4 s of main-thread CPU over a
   * 6 s round here, which a real application does not spend.
   */
  probeIntervalMs: number;
  /** Only each tenant's token (`auth.getToken()`), no API request: the token path alone (tenant-clients, clients). */
  tokenOnly: boolean;
  /**
   * createTenantClients' `credentials` answers as a database's pool would (8 lookups at a time,
   * each on a later turn of the event loop) instead of at once from a map: the clients are then
   * made as their credentials arrive, not all in one synchronous burst before any I/O is read.
   */
  asyncCredentials: boolean;
  profileFile?: string;
}

/** One round's figures, measured in the worker. */
export interface ColdStartRound {
  tenants: number;
  failed: number;
  firstError?: string;
  /** From before the first client is created to the last answer. */
  wallMs: number;
  /** CPU of the main thread alone (Linux: /proc/self/task/<pid>/stat), ms; NaN elsewhere. */
  mainThreadCpuMs: number;
  /** Its system (kernel) part: socket writes, and the wake-ups of the processes they reach. */
  mainThreadSystemCpuMs: number;
  /** CPU of the whole process (every thread: the main one, libuv's pool, GC helpers), ms. */
  processCpuMs: number;
  /** Time in GC pauses (PerformanceObserver 'gc'), ms. */
  gcMs: number;
  eventLoopDelayP99Ms: number;
  eventLoopDelayMaxMs: number;
  /** Longest `fs.readFile` / `dns.lookup` issued on the main thread every `probeIntervalMs`, issue to callback (thread pool + event loop). */
  mainFsMaxMs: number;
  mainDnsMaxMs: number;
  /** The same from an idle worker thread, beyond a control round trip: the thread pool's queue alone. */
  poolFsMaxMs: number;
  poolDnsMaxMs: number;
  heapUsedMb: number;
}

type Library = typeof import('../src');
type RedisEntry = typeof import('../src/redis');

const SELF = fileURLToPath(import.meta.url);

/** CPU ms of this process's main thread, user and system (Linux: /proc/self/task/<pid>/stat, 10 ms ticks); NaN elsewhere. */
function mainThreadCpu(): { userMs: number; systemMs: number } {
  try {
    const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { userMs: Number(fields[11]) * 10, systemMs: Number(fields[12]) * 10 };
  } catch {
    return { userMs: Number.NaN, systemMs: Number.NaN };
  }
}

/** `fs.readFile` and `dns.lookup` from the main thread, one of each in flight at a time; a stuck one counts too. */
function mainThreadProbe(intervalMs: number): { stop(): { fsMs: number; dnsMs: number } } {
  const probes = [
    { max: 0, since: undefined as number | undefined, call: (done: () => void) => readFile(SELF, done) },
    { max: 0, since: undefined as number | undefined, call: (done: () => void) => lookup('localhost', done) },
  ];
  const timer = setInterval(() => {
    for (const probe of probes) {
      if (probe.since !== undefined) continue;
      const since = (probe.since = performance.now());
      probe.call(() => {
        probe.since = undefined;
        probe.max = Math.max(probe.max, performance.now() - since);
      });
    }
  }, intervalMs);
  return {
    stop() {
      clearInterval(timer);
      const [fs, dns] = probes.map((p) => Math.max(p.max, p.since === undefined ? 0 : performance.now() - p.since)) as [
        number,
        number,
      ];
      return { fsMs: fs, dnsMs: dns };
    },
  };
}

async function main(): Promise<void> {
  const config = JSON.parse(process.env.COLD_START_WORKER ?? '') as ColdStartWorkerConfig;
  const tenants = JSON.parse(readFileSync(config.tenantsFile, 'utf8')) as SandboxCredentials[];
  // A source tree's entry points, or a built package's (dist/).
  const extension = existsSync(`${config.libraryDir}/index.ts`) ? 'ts' : 'js';
  const library = (await import(pathToFileURL(`${config.libraryDir}/index.${extension}`).href)) as Library;
  const redisEntry = (await import(pathToFileURL(`${config.libraryDir}/redis.${extension}`).href)) as RedisEntry;
  const credentials = credentialsByTenant(tenants);

  const redis = new Redis(config.redisUrl, { enableAutoPipelining: config.autoPipelining });
  await redis.ping();
  const pool = startPoolProbe(SELF, 'readFile', config.probeIntervalMs);
  await pool.started;
  const session = config.profileFile === undefined ? undefined : new Session();
  if (session !== undefined) {
    session.connect();
    await session.post('Profiler.enable');
    await session.post('Profiler.setSamplingInterval', { interval: 200 });
    await session.post('Profiler.start');
  }
  let gcMs = 0;
  const gcObserver = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) gcMs += entry.duration;
  });
  gcObserver.observe({ entryTypes: ['gc'] });
  const loop = monitorEventLoopDelay({ resolution: 10 });
  loop.enable();
  const probe = mainThreadProbe(config.probeIntervalMs);
  const cpuBefore = process.cpuUsage();
  const mainBefore = mainThreadCpu();
  const started = performance.now();

  // What is measured: creating the stores and the clients, and one request per tenant.
  const tokenStore =
    config.stores === 'both' || config.stores === 'token' ? new redisEntry.RedisTokenStore(redis) : undefined;
  const rateLimitStore =
    config.stores === 'both' || config.stores === 'rate-limit' ? new redisEntry.RedisRateLimitStore(redis) : undefined;
  const shared = {
    environment: { authUrl: config.authUrl, apiUrl: config.apiUrl },
    appKey: config.appKey,
    ...(tokenStore === undefined ? {} : { store: tokenStore }),
    ...(rateLimitStore === undefined ? {} : { rateLimit: { store: rateLimitStore } }),
  };
  let get: (tenantId: string) => Promise<unknown>;
  const path = '/crm/v2/tenant/{tenant}/customers';
  if (config.factory === 'tenant-clients') {
    const lookUp = (tenantId: string) => credentials.get(tenantId)!;
    // A database's pool: 8 lookups at a time, each answered on a later turn of the event loop.
    const pool = pLimit(8);
    const clients = library.createTenantClients({
      ...shared,
      credentials: config.asyncCredentials
        ? (tenantId) => pool(() => new Promise((resolve) => setImmediate(() => resolve(lookUp(tenantId)))))
        : lookUp,
    });
    get = config.tokenOnly
      ? async (tenantId) => (await clients.forTenant(tenantId)).auth.getToken()
      : async (tenantId) => (await clients.forTenant(tenantId)).get(path, { params: { pageSize: 1 } });
  } else if (config.factory === 'axios') {
    const http = axios.create({ baseURL: config.apiUrl });
    const tokenSlots = pLimit(4);
    get = async (tenantId) => {
      const { clientId, clientSecret } = credentials.get(tenantId)!;
      const form = new URLSearchParams({
        grant_type: 'client_credentials',
        client_id: clientId,
        client_secret: clientSecret,
      });
      const token = await tokenSlots(() => axios.post<{ access_token: string }>(config.authUrl, form.toString()));
      if (config.tokenOnly) return token;
      return http.get(path.replace('{tenant}', tenantId), {
        params: { pageSize: 1 },
        headers: { Authorization: `Bearer ${token.data.access_token}`, 'ST-App-Key': config.appKey },
      });
    };
  } else {
    const clients = new Map(
      tenants.map((tenant) => [tenant.tenantId, library.createServiceTitanClient({ ...shared, ...tenant })]),
    );
    get = config.tokenOnly
      ? (tenantId) => clients.get(tenantId)!.auth.getToken()
      : (tenantId) => clients.get(tenantId)!.get(path, { params: { pageSize: 1 } });
  }
  let failed = 0;
  let firstError: string | undefined;
  await Promise.all(
    tenants.map((tenant) =>
      get(tenant.tenantId).catch((error: unknown) => {
        failed += 1;
        firstError ??= describeError(error);
      }),
    ),
  );

  const wallMs = performance.now() - started;
  const mainAfter = mainThreadCpu();
  const cpu = process.cpuUsage(cpuBefore);
  const main = probe.stop();
  loop.disable();
  gcObserver.disconnect();
  if (session !== undefined) {
    const { profile } = await session.post('Profiler.stop');
    writeFileSync(config.profileFile!, JSON.stringify(profile));
    session.disconnect();
  }
  const poolFigures = await pool.stop();
  const round: ColdStartRound = {
    tenants: tenants.length,
    failed,
    ...(firstError === undefined ? {} : { firstError }),
    wallMs,
    mainThreadCpuMs: mainAfter.userMs + mainAfter.systemMs - mainBefore.userMs - mainBefore.systemMs,
    mainThreadSystemCpuMs: mainAfter.systemMs - mainBefore.systemMs,
    processCpuMs: (cpu.user + cpu.system) / 1000,
    gcMs,
    eventLoopDelayP99Ms: loop.percentile(99) / 1e6,
    eventLoopDelayMaxMs: loop.max / 1e6,
    mainFsMaxMs: main.fsMs,
    mainDnsMaxMs: main.dnsMs,
    poolFsMaxMs: poolFigures.fsMs,
    poolDnsMaxMs: poolFigures.dnsMs,
    heapUsedMb: process.memoryUsage().heapUsed / 1024 / 1024,
  };
  process.stdout.write(`result ${JSON.stringify(round)}\n`);

  const input = createInterface({ input: process.stdin });
  await new Promise((resolve) => input.once('line', resolve));
  input.close();
  await tokenStore?.close();
  await redis.quit();
  process.exit(0);
}

await main();
