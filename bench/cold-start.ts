/**
 * The cold-start benchmark (issue 18 item 3): one process starts with N tenants, both Redis
 * stores (RedisTokenStore + RedisRateLimitStore on a real redis-server) and sends one request per
 * tenant, all at once, against a token endpoint that answers in `--token-delay-ms`. The sandbox
 * runs in its own process (bench/server.ts) and every round in a fresh worker process
 * (bench/cold-start-worker.ts), so what is measured is the library's cold start alone.
 *
 *   npm run bench:cold-start                                    # 2,000 tenants, 3 rounds
 *   npm run bench:cold-start -- --tenants=500 --rounds=5
 *   npm run bench:cold-start -- --factory=clients               # createServiceTitanClient per tenant (as bench:fleet's workers)
 *   npm run bench:cold-start -- --factory=axios                 # the floor: bare axios, the same exchanges
 *   npm run bench:cold-start -- --stores=none                   # in-memory stores: what the Redis stores add
 *   npm run bench:cold-start -- --compare=.tmp/base/src         # rounds interleaved with another source tree
 *   npm run bench:cold-start -- --built                         # this tree's dist/ (npm run build first): what users run
 *   npm run bench:cold-start -- --auto-pipelining               # the workers' ioredis client with enableAutoPipelining
 *   npm run bench:cold-start -- --profile --rounds=1            # a .cpuprofile of the cold start per round
 *   npm run bench:cold-start -- --token-only                    # each tenant's token alone, no API request
 *   npm run bench:cold-start -- --async-credentials             # credentials looked up as from a database (createTenantClients)
 *   npm run bench:cold-start -- --probe-interval-ms=100         # the fs/dns probes 5× less often (default 20)
 *
 * With `--compare`, rounds alternate (this tree, the other, the other, this, …) so that both see
 * the same machine load and go first equally often; compare CPU (main thread, process), not wall time, on a busy machine. Redis's
 * data is flushed and its command counts reset before each round. Prints a markdown table and
 * the medians; writes bench/results/cold-start-latest.json.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { startRedisServer } from '../tests/helpers/redis-server';
import { manyTenants } from '../tests/helpers/tenants';
import { startWorkerProcess } from '../tests/helpers/worker-process';
import type { ColdStartRound, ColdStartWorkerConfig } from './cold-start-worker';
import { BenchServer } from './server-control';
import { fixed, median, table, thousands } from './stats';
import { runAsScript } from './run-as-script';

interface ColdStartConfig {
  tenants: number;
  rounds: number;
  tokenDelayMs: number;
  factory: ColdStartWorkerConfig['factory'];
  stores: ColdStartWorkerConfig['stores'];
  /** Another `src/` (or built `dist/`) to interleave with this tree's (before/after). */
  compare?: string;
  /**
   * This tree's `dist/` instead of its `src/`: the built package users run. Run from `src/`
   * through tsx, every function also goes through esbuild's `__name` helper, which the build
   * leaves out (~1 % of a profile's main-thread samples; no difference in wall or CPU measured).
   */
  built: boolean;
  profile: boolean;
  /** The worker's ioredis client with `enableAutoPipelining`. */
  autoPipelining: boolean;
  /** How often the worker's fs/dns probes run (see ColdStartWorkerConfig). */
  probeIntervalMs: number;
  /** Each tenant's token only, no API request. */
  tokenOnly: boolean;
  asyncCredentials: boolean;
}

/** A round's figures with what the harness counted at the sandbox and in Redis. */
export interface ColdStartResult extends ColdStartRound {
  source: string;
  tokenRequests: number;
  apiRequests: number;
  /** Every Redis command during the round (INFO commandstats), the harness's own left out. */
  redisCommands: number;
  redisByCommand: Record<string, number>;
  /** Pub/sub channels with a subscriber once every tenant is served. */
  redisChannels: number;
  loadAverage: number[];
}

const WORKER = fileURLToPath(new URL('./cold-start-worker.ts', import.meta.url));
const HERE = path.dirname(fileURLToPath(import.meta.url));
const OWN_SRC = path.resolve(HERE, '..', 'src');
const OWN_DIST = path.resolve(HERE, '..', 'dist');
/** How the table and the progress lines name a library source. */
const sourceLabel = (source: string) =>
  source === OWN_SRC ? 'this tree' : source === OWN_DIST ? 'this tree (dist)' : path.relative(process.cwd(), source);
/** Commands the harness itself sends between CONFIG RESETSTAT and INFO: not the library's. */
const HARNESS_COMMANDS = new Set(['config', 'info', 'flushall', 'pubsub']);

function parseConfig(argv: readonly string[]): ColdStartConfig {
  const config: ColdStartConfig = {
    tenants: 2_000,
    rounds: 3,
    tokenDelayMs: 5,
    factory: 'tenant-clients',
    stores: 'both',
    profile: false,
    autoPipelining: false,
    probeIntervalMs: 20,
    tokenOnly: false,
    asyncCredentials: false,
    built: false,
  };
  for (const arg of argv) {
    const [name, value] = arg.replace(/^--/, '').split('=') as [string, string | undefined];
    if (name === 'profile' && value === undefined) config.profile = true;
    else if (name === 'auto-pipelining' && value === undefined) config.autoPipelining = true;
    else if (name === 'token-only' && value === undefined) config.tokenOnly = true;
    else if (name === 'async-credentials' && value === undefined) config.asyncCredentials = true;
    else if (name === 'built' && value === undefined) config.built = true;
    else if (name === 'compare' && value !== undefined) config.compare = path.resolve(value);
    else if (name === 'factory' && (value === 'tenant-clients' || value === 'clients' || value === 'axios')) {
      config.factory = value;
    } else if (
      name === 'stores' &&
      (value === 'both' || value === 'token' || value === 'rate-limit' || value === 'none')
    ) {
      config.stores = value;
    } else if ((name === 'tenants' || name === 'rounds' || name === 'token-delay-ms') && Number(value) >= 0) {
      config[name === 'token-delay-ms' ? 'tokenDelayMs' : name] = Number(value);
    } else if (name === 'probe-interval-ms' && Number(value) >= 1) {
      config.probeIntervalMs = Number(value);
    } else {
      throw new Error(
        `unknown or bad argument ${arg} (--tenants=N --rounds=N --token-delay-ms=N --factory=tenant-clients|clients|axios --stores=both|token|rate-limit|none --compare=<src or dist dir> --built --profile --auto-pipelining --probe-interval-ms=N --token-only --async-credentials)`,
      );
    }
  }
  return config;
}

async function commandStats(redis: Redis): Promise<Record<string, number>> {
  const calls: Record<string, number> = {};
  for (const line of (await redis.info('commandstats')).split(/\r?\n/)) {
    const match = /^cmdstat_([^:]+):calls=(\d+)/.exec(line);
    if (match !== null && !HARNESS_COMMANDS.has(match[1]!.split('|')[0]!)) calls[match[1]!] = Number(match[2]);
  }
  return calls;
}

async function runRound(
  source: string,
  server: BenchServer,
  redis: Redis,
  base: Omit<ColdStartWorkerConfig, 'libraryDir' | 'profileFile'>,
  profileFile: string | undefined,
): Promise<ColdStartResult> {
  await redis.flushall();
  await redis.config('RESETSTAT');
  await server.resetCounters();
  const worker = startWorkerProcess(WORKER, {
    COLD_START_WORKER: JSON.stringify({
      ...base,
      libraryDir: source,
      ...(profileFile === undefined ? {} : { profileFile }),
    } satisfies ColdStartWorkerConfig),
  });
  try {
    const round = JSON.parse((await worker.next('result ')).slice(7)) as ColdStartRound;
    const byCommand = await commandStats(redis);
    const channels = ((await redis.call('PUBSUB', 'CHANNELS')) as string[]).length;
    const counters = await server.counters();
    worker.send('close');
    await worker.exited;
    return {
      ...round,
      source,
      tokenRequests: counters.token,
      apiRequests: counters.api,
      redisCommands: Object.values(byCommand).reduce((sum, n) => sum + n, 0),
      redisByCommand: byCommand,
      redisChannels: channels,
      loadAverage: loadavg().map((n) => Number(n.toFixed(2))),
    };
  } finally {
    if (worker.child.exitCode === null) worker.child.kill('SIGKILL');
  }
}

const FACTORY_LABEL: Record<ColdStartConfig['factory'], string> = {
  'tenant-clients': 'createTenantClients, tokenConcurrency 4',
  clients: 'createServiceTitanClient per tenant',
  axios: 'bare axios, 4 token requests at a time: the floor',
};

const STORES_LABEL: Record<ColdStartConfig['stores'], string> = {
  both: 'both Redis stores',
  token: 'RedisTokenStore (rate limit in memory)',
  'rate-limit': 'RedisRateLimitStore (tokens in memory)',
  none: 'in-memory stores (no Redis)',
};

const ms = (value: number) => (value >= 100 ? thousands(value) : fixed(value, 1));

export function coldStartSection(config: ColdStartConfig, results: ColdStartResult[]): string {
  const columns: [string, (r: ColdStartResult) => string][] = [
    ['source', (r) => sourceLabel(r.source)],
    ['tenants', (r) => thousands(r.tenants)],
    ['wall s, all done', (r) => fixed(r.wallMs / 1000, 2)],
    ['failed', (r) => String(r.failed)],
    ['token requests', (r) => thousands(r.tokenRequests)],
    [
      'main-thread CPU s (system)',
      (r) => `${fixed(r.mainThreadCpuMs / 1000, 2)} (${fixed(r.mainThreadSystemCpuMs / 1000, 2)})`,
    ],
    ['process CPU s', (r) => fixed(r.processCpuMs / 1000, 2)],
    ['GC ms', (r) => thousands(r.gcMs)],
    ['event-loop delay p99 / max ms', (r) => `${ms(r.eventLoopDelayP99Ms)} / ${ms(r.eventLoopDelayMaxMs)}`],
    ['fs.readFile max ms (main / pool)', (r) => `${ms(r.mainFsMaxMs)} / ${ms(r.poolFsMaxMs)}`],
    ['dns.lookup max ms (main / pool)', (r) => `${ms(r.mainDnsMaxMs)} / ${ms(r.poolDnsMaxMs)}`],
    ['Redis commands per tenant', (r) => fixed(r.redisCommands / r.tenants, 2)],
    ['pub/sub channels', (r) => String(r.redisChannels)],
    ['load avg (1 min)', (r) => fixed(r.loadAverage[0] ?? Number.NaN, 2)],
  ];
  const sources = [...new Set(results.map((r) => r.source))];
  const medians = sources.map((source) => {
    const rows = results.filter((r) => r.source === source);
    const m = (pick: (r: ColdStartResult) => number) => median(rows.map(pick));
    return `- ${sourceLabel(source)}, median of ${rows.length}: wall ${fixed(m((r) => r.wallMs) / 1000, 2)} s, main-thread CPU ${fixed(m((r) => r.mainThreadCpuMs) / 1000, 2)} s, process CPU ${fixed(m((r) => r.processCpuMs) / 1000, 2)} s, event-loop max ${ms(m((r) => r.eventLoopDelayMaxMs))} ms, Redis commands per tenant ${fixed(
      m((r) => r.redisCommands / r.tenants),
      2,
    )}`;
  });
  const commands = sources.map((source) => {
    const last = results.filter((r) => r.source === source).at(-1)!;
    const top = Object.entries(last.redisByCommand)
      .sort(([, a], [, b]) => b - a)
      .map(([name, calls]) => `${name} ${fixed(calls / last.tenants, 2)}`)
      .join(', ');
    return `- ${sourceLabel(source)}, Redis commands per tenant (last round): ${top}`;
  });
  return [
    `### Cold start: ${thousands(config.tenants)} tenants in one process, ${STORES_LABEL[config.stores]}, ${config.tokenOnly ? 'its token only' : 'one request each'}${config.asyncCredentials ? ', credentials looked up asynchronously' : ''}, token endpoint answering in ${config.tokenDelayMs} ms (${FACTORY_LABEL[config.factory]})`,
    '',
    table(
      columns.map(([name]) => name),
      results.map((r) => columns.map(([, cell]) => cell(r))),
    ),
    '',
    ...medians,
    ...commands,
  ].join('\n');
}

async function main(): Promise<void> {
  const config = parseConfig(process.argv.slice(2));
  const tenants = manyTenants(config.tenants, 'cid.cold', 200_000);
  const scratch = mkdtempSync(path.join(tmpdir(), 'cold-start-'));
  const tenantsFile = path.join(scratch, 'tenants.json');
  writeFileSync(tenantsFile, JSON.stringify(tenants));
  const resultsDir = path.join(HERE, 'results');
  const profileDir = path.join(resultsDir, 'profiles');
  if (config.profile) mkdirSync(profileDir, { recursive: true });

  const started = performance.now();
  const redisServer = await startRedisServer();
  const redis = new Redis(redisServer.url);
  const server = await BenchServer.start({ clients: tenants });
  const results: ColdStartResult[] = [];
  try {
    await server.tokenLatency(config.tokenDelayMs);
    const base = {
      tenantsFile,
      appKey: server.info.appKey,
      authUrl: server.info.authUrl,
      apiUrl: server.info.apiUrl,
      redisUrl: redisServer.url,
      autoPipelining: config.autoPipelining,
      probeIntervalMs: config.probeIntervalMs,
      tokenOnly: config.tokenOnly,
      asyncCredentials: config.asyncCredentials,
      factory: config.factory,
      stores: config.stores,
    };
    const own = config.built ? OWN_DIST : OWN_SRC;
    if (config.built && !existsSync(path.join(OWN_DIST, 'index.js')))
      throw new Error('--built: run `npm run build` first');
    const sources = config.compare === undefined ? [own] : [own, config.compare];
    // A round first that is not counted: the first round of a run was always the slowest (7.2–
    // 13.6 s where the others took 5–9 s), whichever tree ran it: the sandbox's and Redis's
    // first 2,000 clients (their JIT, their allocations), not the library's.
    process.stderr.write('  warm-up round (not counted)\n');
    await runRound(own, server, redis, base, undefined);
    for (let round = 0; round < config.rounds; round += 1) {
      // ABBA: the first round of a pair ran slower in every pair of a run (5.6–7.8 s against
      // 5.0–5.9 s, each tree first in turn), so each tree goes first in half the pairs.
      const order = round % 2 === 0 ? sources : [...sources].reverse();
      for (const source of order) {
        const index = sources.indexOf(source);
        process.stderr.write(
          `  [${((performance.now() - started) / 1000).toFixed(0)} s] round ${round + 1}/${config.rounds} ${sourceLabel(source)}\n`,
        );
        const profileFile = config.profile
          ? path.join(profileDir, `cold-start-${index === 0 ? 'this' : 'compare'}-${round + 1}.cpuprofile`)
          : undefined;
        results.push(await runRound(source, server, redis, base, profileFile));
      }
    }
  } finally {
    redis.disconnect();
    await server.close();
    await redisServer.stop();
    rmSync(scratch, { recursive: true, force: true });
  }
  const meta = {
    date: new Date().toISOString(),
    node: process.version,
    cpus: `${cpus().length} × ${cpus()[0]?.model ?? 'unknown'}`,
    loadAverageAtEnd: loadavg().map((n) => Number(n.toFixed(2))),
    command: `npm run bench:cold-start -- ${process.argv.slice(2).join(' ')}`.trim(),
  };
  const errors = results.filter((r) => r.firstError !== undefined).map((r) => r.firstError);
  process.stdout.write(
    `${coldStartSection(config, results)}\n${errors.length > 0 ? `\nFirst errors: ${errors.join('; ')}\n` : ''}\nnode ${meta.node}, ${meta.cpus}, load average at end ${meta.loadAverageAtEnd.join(' ')}.\n`,
  );
  mkdirSync(resultsDir, { recursive: true });
  writeFileSync(
    path.join(resultsDir, 'cold-start-latest.json'),
    `${JSON.stringify({ meta, config, results }, null, 2)}\n`,
  );
  process.stderr.write(
    `wrote bench/results/cold-start-latest.json${config.profile ? ' and bench/results/profiles/cold-start-*.cpuprofile' : ''}\n`,
  );
}

runAsScript(import.meta.url, main);
