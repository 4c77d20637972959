/**
 * The fleet benchmark (issue 18 item 5): N worker processes over M tenants, every worker a
 * client per tenant sharing one RedisTokenStore and one RedisRateLimitStore, against the
 * sandbox in its own process (60 requests per rolling second per tenant, like ServiceTitan), on
 * one redis-server and on a real 3-master Redis Cluster, side by side.
 *
 *   npm run bench:fleet                                  # 8 workers × 500 tenants, 2 req/s per tenant, 15 s
 *   npm run bench:fleet -- --tenants=5000 --seconds=20   # ServiceTitan scale
 *   npm run bench:fleet -- --workers=4 --rate=1 --busy=2 --topologies=single
 *   npm run bench:fleet -- --workers=8 --tenants=5000 --rate=0.1 --seconds=20   # a request per 10 s per tenant
 *
 * Per topology: the workers start at once and each sends one request per tenant (cold start),
 * then all send for `--seconds` (the fleet sends `--rate` requests/s per tenant in all, spread
 * over the workers; `--busy` tenants are kept saturated, `--busy-loops` requests at a time per
 * worker). Redis figures are deltas of `INFO commandstats` and `INFO cpu` summed over every
 * master, over the steady phase. Prints a markdown table; writes bench/results/fleet-latest.json.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { startRedisCluster, type RedisCluster } from '../tests/helpers/redis-cluster';
import { startRedisServer, type RedisServer } from '../tests/helpers/redis-server';
import { manyTenants } from '../tests/helpers/tenants';
import { startWorkerProcess, type WorkerProcess } from '../tests/helpers/worker-process';
import type { Fallbacks, FleetWorkerCold, FleetWorkerConfig, FleetWorkerDone } from './fleet-worker';
import type { TenantCounters } from './protocol';
import { BenchServer } from './server-control';
import { fixed, median, table, thousands } from './stats';
import { runAsScript } from './run-as-script';

type Topology = 'single' | 'cluster';

interface FleetConfig {
  workers: number;
  tenants: number;
  /** Requests per second per tenant, fleet-wide. */
  rate: number;
  seconds: number;
  busy: number;
  busyLoops: number;
  topologies: Topology[];
}

export interface RedisFigures {
  /** EVAL/EVALSHA/FCALL (and their _RO forms) calls, summed over every master. */
  scriptCalls: number;
  /** Every command's calls, summed over every master. */
  commands: number;
  /** used_cpu_sys + used_cpu_user, seconds, summed over every master. */
  cpuSeconds: number;
  /** Calls per command name, summed over every master. */
  byCommand: Record<string, number>;
}

export interface FleetTopologyResult {
  topology: Topology;
  masters: number;
  coldStartMs: number;
  coldFailed: number;
  coldPoolDelayMaxMs: number;
  coldFallbacks: Fallbacks;
  coldEventLoopDelayMaxMs: number;
  fallbacks: Fallbacks;
  eventLoopDelayMaxMs: number;
  coldTokenRequests: number;
  requests: number;
  failed: number;
  skipped: number;
  firstError?: string;
  requestsPerSecond: number;
  maxArrivalsPerTenant: number;
  medianOfTenantMaxArrivals: number;
  busyMaxArrivals: number;
  rateLimited: number;
  /** See TenantCounters.serverLateBefore429sMs. */
  serverLateBefore429sMs: number;
  tokenRequestsPerTenant: number;
  scriptCallsPer1000: number;
  commandsPer1000: number;
  redisCpuMsPer1000: number;
  /** The same less Redis's idle CPU (measured for 2 s before the steady phase). */
  redisNetCpuMsPer1000: number;
  /** Script calls per second of one Redis core: script calls / net Redis CPU seconds. */
  scriptCallsPerRedisCpuSecond: number;
  steadyPoolDelayMaxMs: number;
  workerCpuMicrosPerRequest: number;
  serverLogOverflow: number;
  redisErrors: number;
  unhandledRejections: number;
  redis: RedisFigures;
}

const WORKER = fileURLToPath(new URL('./fleet-worker.ts', import.meta.url));
const SCRIPT_COMMANDS = new Set(['eval', 'evalsha', 'eval_ro', 'evalsha_ro', 'fcall', 'fcall_ro']);

function parseConfig(argv: readonly string[]): FleetConfig {
  const config: FleetConfig = {
    workers: 8,
    tenants: 500,
    rate: 2,
    seconds: 15,
    busy: 1,
    busyLoops: 8,
    topologies: ['single', 'cluster'],
  };
  for (const arg of argv) {
    const [name, value] = arg.replace(/^--/, '').split('=') as [string, string | undefined];
    if (name === 'topologies') {
      const list = (value ?? '').split(',');
      if (list.some((t) => t !== 'single' && t !== 'cluster')) throw new Error('--topologies=single,cluster');
      config.topologies = list as Topology[];
      continue;
    }
    const key = { workers: 'workers', tenants: 'tenants', rate: 'rate', seconds: 'seconds', busy: 'busy' }[name] as
      keyof FleetConfig | undefined;
    const numeric = name === 'busy-loops' ? 'busyLoops' : key;
    const number = Number(value);
    if (numeric === undefined || !Number.isFinite(number) || number < 0) {
      throw new Error(
        `unknown or bad argument ${arg} (--workers --tenants --rate --seconds --busy --busy-loops --topologies)`,
      );
    }
    (config as unknown as Record<string, number>)[numeric] = number;
  }
  if (config.busy > config.tenants) throw new Error('--busy must not exceed --tenants');
  return config;
}

/** INFO commandstats + INFO cpu of one node. */
async function redisFigures(ports: readonly number[]): Promise<RedisFigures> {
  const figures: RedisFigures = { scriptCalls: 0, commands: 0, cpuSeconds: 0, byCommand: {} };
  for (const port of ports) {
    const redis = new Redis({ host: '127.0.0.1', port, lazyConnect: true });
    try {
      await redis.connect();
      const info = `${await redis.info('commandstats')}\n${await redis.info('cpu')}`;
      for (const line of info.split(/\r?\n/)) {
        const command = /^cmdstat_([^:]+):calls=(\d+)/.exec(line);
        if (command !== null) {
          const calls = Number(command[2]);
          figures.commands += calls;
          figures.byCommand[command[1]!] = (figures.byCommand[command[1]!] ?? 0) + calls;
          if (SCRIPT_COMMANDS.has(command[1]!.toLowerCase())) figures.scriptCalls += calls;
        }
        const cpu = /^used_cpu_(sys|user):([\d.]+)/.exec(line);
        if (cpu !== null) figures.cpuSeconds += Number(cpu[2]);
      }
    } finally {
      redis.disconnect();
    }
  }
  return figures;
}

function minus(after: RedisFigures, before: RedisFigures): RedisFigures {
  const byCommand: Record<string, number> = {};
  for (const [name, calls] of Object.entries(after.byCommand)) {
    const delta = calls - (before.byCommand[name] ?? 0);
    if (delta > 0) byCommand[name] = delta;
  }
  return {
    scriptCalls: after.scriptCalls - before.scriptCalls,
    commands: after.commands - before.commands,
    cpuSeconds: after.cpuSeconds - before.cpuSeconds,
    byCommand,
  };
}

/** Redis's own CPU when idle (its cron, the cluster bus), per second: subtracted from the steady phase's. */
const IDLE_SAMPLE_MS = 2_000;

async function runTopology(
  topology: Topology,
  config: FleetConfig,
  server: BenchServer,
  tenants: FleetWorkerConfig['tenants'],
): Promise<FleetTopologyResult> {
  let single: RedisServer | undefined;
  let cluster: RedisCluster | undefined;
  let ports: number[];
  let redis: FleetWorkerConfig['redis'];
  if (topology === 'single') {
    single = await startRedisServer();
    ports = [single.port];
    redis = { url: single.url };
  } else {
    cluster = await startRedisCluster(3);
    ports = cluster.nodes.map((node) => node.port);
    redis = { nodes: [...cluster.nodes] };
  }
  const workers: WorkerProcess[] = [];
  const scratch = mkdtempSync(path.join(tmpdir(), 'fleet-bench-'));
  try {
    await server.resetCounters();
    const busyTenants = tenants.slice(0, config.busy).map((t) => t.tenantId);
    const workerConfig: FleetWorkerConfig = {
      appKey: server.info.appKey,
      authUrl: server.info.authUrl,
      apiUrl: server.info.apiUrl,
      tenants,
      busyTenants,
      busyLoops: config.busyLoops,
      ratePerTenant: config.rate / config.workers,
      seconds: config.seconds,
      redis,
    };
    // Through a file: 5,000 tenants' credentials exceed what one environment variable may hold
    // (spawn E2BIG).
    const configFile = path.join(scratch, `worker-${topology}.json`);
    writeFileSync(configFile, JSON.stringify(workerConfig));
    for (let index = 0; index < config.workers; index += 1) {
      workers.push(startWorkerProcess(WORKER, { FLEET_BENCH_WORKER: `@${configFile}` }));
    }
    const colds = await Promise.all(
      workers.map(async (worker) => JSON.parse((await worker.next('cold ')).slice(5)) as FleetWorkerCold),
    );
    const coldTokens = (await server.tenantCounters()).token;
    await server.resetCounters();
    const idleFrom = await redisFigures(ports);
    await new Promise((resolve) => setTimeout(resolve, IDLE_SAMPLE_MS));
    const before = await redisFigures(ports);
    const idleCpuPerSecond = (before.cpuSeconds - idleFrom.cpuSeconds) / (IDLE_SAMPLE_MS / 1000);
    const steadyFrom = performance.now();
    const dones = workers.map(async (worker) => JSON.parse((await worker.next('done ')).slice(5)) as FleetWorkerDone);
    for (const worker of workers) worker.send('go');
    const done = await Promise.all(dones);
    const delta = minus(await redisFigures(ports), before);
    const steadySeconds = (performance.now() - steadyFrom) / 1000;
    const netCpuSeconds = Math.max(0, delta.cpuSeconds - idleCpuPerSecond * steadySeconds);
    const counters: TenantCounters = await server.tenantCounters();
    const arrivals = Object.entries(counters.maxArrivalsPerTenant);
    const requests = done.reduce((sum, d) => sum + d.ok, 0);
    const per1000 = (value: number) => (requests === 0 ? Number.NaN : (value / requests) * 1000);
    const firstError = done.find((d) => d.firstError !== undefined)?.firstError;
    return {
      topology,
      masters: ports.length,
      coldStartMs: Math.max(...colds.map((c) => c.ms)),
      coldFailed: colds.reduce((sum, c) => sum + c.failed, 0),
      coldPoolDelayMaxMs: Math.max(...colds.map((c) => c.poolDelayMaxMs)),
      coldFallbacks: sumFallbacks(colds.map((c) => c.fallbacks)),
      coldEventLoopDelayMaxMs: Math.max(...colds.map((c) => c.eventLoopDelayMaxMs)),
      fallbacks: sumFallbacks(done.map((d) => d.fallbacks)),
      eventLoopDelayMaxMs: Math.max(...done.map((d) => d.eventLoopDelayMaxMs)),
      coldTokenRequests: coldTokens,
      requests,
      failed: done.reduce((sum, d) => sum + d.failed, 0),
      skipped: done.reduce((sum, d) => sum + d.skipped, 0),
      ...(firstError === undefined ? {} : { firstError }),
      requestsPerSecond: requests / config.seconds,
      maxArrivalsPerTenant: Math.max(0, ...arrivals.map(([, n]) => n)),
      medianOfTenantMaxArrivals: median(arrivals.filter(([t]) => !busyTenants.includes(t)).map(([, n]) => n)),
      busyMaxArrivals: Math.max(0, ...arrivals.filter(([t]) => busyTenants.includes(t)).map(([, n]) => n)),
      rateLimited: counters.rateLimited,
      serverLateBefore429sMs: counters.serverLateBefore429sMs,
      tokenRequestsPerTenant: (coldTokens + counters.token) / tenants.length,
      scriptCallsPer1000: per1000(delta.scriptCalls),
      commandsPer1000: per1000(delta.commands),
      redisCpuMsPer1000: per1000(delta.cpuSeconds * 1000),
      redisNetCpuMsPer1000: per1000(netCpuSeconds * 1000),
      scriptCallsPerRedisCpuSecond: netCpuSeconds > 0 ? delta.scriptCalls / netCpuSeconds : Number.NaN,
      steadyPoolDelayMaxMs: Math.max(...done.map((d) => d.poolDelayMaxMs)),
      workerCpuMicrosPerRequest: requests === 0 ? Number.NaN : done.reduce((sum, d) => sum + d.cpuMicros, 0) / requests,
      serverLogOverflow: counters.logOverflow,
      redisErrors: done.reduce((sum, d) => sum + d.redisErrors, 0),
      unhandledRejections: done.reduce((sum, d) => sum + d.unhandledRejections, 0),
      redis: delta,
    };
  } finally {
    for (const worker of workers) if (worker.child.exitCode === null) worker.child.kill('SIGKILL');
    await Promise.all(workers.map((worker) => worker.exited));
    await single?.stop();
    await cluster?.stop();
    rmSync(scratch, { recursive: true, force: true });
  }
}

function sumFallbacks(all: Fallbacks[]): Fallbacks {
  const causes: Record<string, number> = {};
  for (const [cause, count] of all.flatMap((f) => Object.entries(f.causes)))
    causes[cause] = (causes[cause] ?? 0) + count;
  return {
    rateLimitStore: all.reduce((sum, f) => sum + f.rateLimitStore, 0),
    tokenStore: all.reduce((sum, f) => sum + f.tokenStore, 0),
    causes,
  };
}

/** Each topology's fallback causes, cold start and steady phase, most frequent first. */
function fallbackCauses(results: FleetTopologyResult[]): string {
  const lines = results.flatMap((r) =>
    (
      [
        ['cold start', r.coldFallbacks],
        ['steady phase', r.fallbacks],
      ] as const
    ).flatMap(([phase, fallbacks]) =>
      Object.entries(fallbacks.causes)
        .sort(([, a], [, b]) => b - a)
        .map(([cause, count]) => `- ${r.topology}, ${phase}: ${count} × ${cause}`),
    ),
  );
  return lines.length === 0 ? '' : `\n\nStore fallbacks by cause:\n\n${lines.join('\n')}`;
}

export function fleetBenchSection(config: FleetConfig, results: FleetTopologyResult[]): string {
  const label = (r: FleetTopologyResult) =>
    r.topology === 'single' ? 'one redis-server' : `Redis Cluster, ${r.masters} masters`;
  const rows: [string, (r: FleetTopologyResult) => string][] = [
    ['requests/s (fleet, steady phase)', (r) => thousands(r.requestsPerSecond)],
    ['failed requests (steady) / not sent: worker saturated', (r) => `${r.failed} / ${r.skipped}`],
    ['max arrivals per tenant in a rolling second (at the server)', (r) => String(r.maxArrivalsPerTenant)],
    [`… of the ${config.busy} saturated tenant(s)`, (r) => String(r.busyMaxArrivals)],
    ['… median over the other tenants', (r) => fixed(r.medianOfTenantMaxArrivals, 0)],
    [
      "429s (the server's limit, 60/s per tenant; the server's own lateness in the second before)",
      (r) => (r.rateLimited === 0 ? '0' : `${r.rateLimited} (up to ${r.serverLateBefore429sMs} ms late)`),
    ],
    ['token requests per tenant (cold start + steady)', (r) => fixed(r.tokenRequestsPerTenant, 3)],
    ['Redis script calls per 1,000 requests (EVAL/EVALSHA/FCALL, all masters)', (r) => thousands(r.scriptCallsPer1000)],
    ['Redis commands per 1,000 requests (all, those run inside scripts included)', (r) => thousands(r.commandsPer1000)],
    ['Redis CPU ms per 1,000 requests (sys+user, all masters)', (r) => fixed(r.redisCpuMsPer1000, 1)],
    ['… less idle CPU (cron, cluster bus)', (r) => fixed(r.redisNetCpuMsPer1000, 1)],
    ['script calls per Redis CPU second (net)', (r) => thousands(r.scriptCallsPerRedisCpuSecond)],
    [
      `cold start: ${config.workers} workers × ${thousands(config.tenants)} tenants, 1 request each (slowest worker)`,
      (r) => `${fixed(r.coldStartMs / 1000, 1)} s (${r.coldFailed} failed)`,
    ],
    ['thread-pool delay max, cold start (fs.stat every 50 ms)', (r) => `${thousands(r.coldPoolDelayMaxMs)} ms`],
    ['thread-pool delay max, steady phase', (r) => `${thousands(r.steadyPoolDelayMaxMs)} ms`],
    ['worker CPU µs per request (all workers)', (r) => fixed(r.workerCpuMicrosPerRequest, 0)],
    [
      'store fallbacks, cold start: rate-limit / token (warnings: a client went on alone)',
      (r) => `${r.coldFallbacks.rateLimitStore} / ${r.coldFallbacks.tokenStore}`,
    ],
    [
      'store fallbacks, steady phase: rate-limit / token',
      (r) => `${r.fallbacks.rateLimitStore} / ${r.fallbacks.tokenStore}`,
    ],
    [
      "workers' event-loop delay max, cold start / steady phase",
      (r) => `${thousands(r.coldEventLoopDelayMaxMs)} / ${thousands(r.eventLoopDelayMaxMs)} ms`,
    ],
    ['ioredis errors / unhandled rejections in workers', (r) => `${r.redisErrors} / ${r.unhandledRejections}`],
  ];
  const errors = results.filter((r) => r.firstError !== undefined).map((r) => `${r.topology}: ${r.firstError}`);
  const overflow = results.filter((r) => r.serverLogOverflow > 0);
  return [
    `### Fleet: ${config.workers} worker processes × ${thousands(config.tenants)} tenants, both Redis stores, ${config.rate} requests/s per tenant (fleet-wide) for ${config.seconds} s, ${config.busy} tenant(s) saturated (${config.busyLoops} loops per worker)`,
    '',
    table(
      ['', ...results.map(label)],
      rows.map(([name, cell]) => [name, ...results.map(cell)]),
    ),
    ...(errors.length > 0 ? ['', `First errors: ${errors.join('; ')}`] : []),
    ...(overflow.length > 0 ? ['', 'The server log overflowed: arrival figures are partial.'] : []),
  ].join('\n');
}

async function main(): Promise<void> {
  const config = parseConfig(process.argv.slice(2));
  const tenants = manyTenants(config.tenants, 'cid.fleet', 100_000);
  const expectedRequests = (config.tenants * config.rate + config.busy * 60) * config.seconds;
  const server = await BenchServer.start({
    clients: tenants,
    rateLimit: { requestsPerSecond: 60 },
    requestLogLimit: Math.ceil(expectedRequests * 2) + 10_000,
  });
  const results: FleetTopologyResult[] = [];
  const started = performance.now();
  try {
    for (const topology of config.topologies) {
      process.stderr.write(`  [${((performance.now() - started) / 1000).toFixed(0)} s] ${topology}\n`);
      results.push(await runTopology(topology, config, server, tenants));
    }
  } finally {
    await server.close();
  }
  const meta = {
    date: new Date().toISOString(),
    node: process.version,
    cpus: `${cpus().length} × ${cpus()[0]?.model ?? 'unknown'}`,
    loadAverageAtEnd: loadavg().map((n) => Number(n.toFixed(2))),
    wallSeconds: (performance.now() - started) / 1000,
    command: `npm run bench:fleet -- ${process.argv.slice(2).join(' ')}`.trim(),
  };
  process.stdout.write(
    `${fleetBenchSection(config, results)}${fallbackCauses(results)}\n\nnode ${meta.node}, ${meta.cpus}, load average at end ${meta.loadAverageAtEnd.join(' ')}, wall ${meta.wallSeconds.toFixed(0)} s.\n`,
  );
  const resultsDir = fileURLToPath(new URL('./results/', import.meta.url));
  mkdirSync(resultsDir, { recursive: true });
  writeFileSync(`${resultsDir}fleet-latest.json`, `${JSON.stringify({ meta, config, results }, null, 2)}\n`);
  process.stderr.write('wrote bench/results/fleet-latest.json\n');
}

runAsScript(import.meta.url, main);
