/**
 * Token requests per hour for a fleet of K worker processes, with and without a shared
 * RedisTokenStore. `npx tsx scripts/fleet-figures.ts` (uses REDIS_URL, or starts a throwaway
 * redis-server on a free port; FLEET_K and FLEET_SECONDS override the defaults).
 *
 * Each worker is a separate process with its own client, sending API requests continuously.
 * The sandbox issues 4 s tokens and the workers renew 1 s before expiry, so a token lasts 3 s
 * instead of ServiceTitan's 840 s (900 s tokens, renewed 60 s early by default): every renewal
 * period is compressed 280×. The count measured over the run is turned into token requests per
 * renewal period, then into token requests per hour at ServiceTitan's pace (3600 / 840 periods
 * per hour). The cold start (one fetch per process without the store) is counted, which
 * slightly overstates a long-running fleet.
 *
 * Worker mode (internal): FIGURES_WORKER=1, see `worker()`.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { clientOptionsFromEnv, createServiceTitanClient, MemoryTokenStore } from '../src';
import { RedisTokenStore } from '../src/redis';
import { startSandbox, type Sandbox } from '../src/testing';
import { startRedisServer, type RedisServer } from '../tests/helpers/redis-server';
import { clientEnv } from '../tests/helpers/worker-process';

const K = Number(process.env.FLEET_K ?? 8);
const SECONDS = Number(process.env.FLEET_SECONDS ?? 20);
const ST_PERIODS_PER_HOUR = 3600 / (900 - 60);
const TOKEN_LIFETIME_S = 4;
const REFRESH_BUFFER_S = 1;
const TEST_PERIOD_S = TOKEN_LIFETIME_S - Math.min(REFRESH_BUFFER_S, TOKEN_LIFETIME_S / 2);

async function worker(): Promise<void> {
  const redisUrl = process.env.FIGURES_REDIS_URL ?? '';
  const redis = redisUrl === '' ? undefined : new Redis(redisUrl);
  const store = redis === undefined ? new MemoryTokenStore() : new RedisTokenStore(redis); // the key is derived from the client's secret
  const client = createServiceTitanClient({
    ...clientOptionsFromEnv({ prefix: 'FIGURES_', requireTenantId: true }),
    refreshBufferMs: REFRESH_BUFFER_S * 1000,
    rateLimit: false,
    store,
  });
  const until = Date.now() + Number(process.env.FIGURES_SECONDS) * 1_000;
  let ok = 0;
  let failed = 0;
  // Two requests in flight, a short pause between requests: a steady, modest load.
  await Promise.all(
    Array.from({ length: 2 }, async () => {
      while (Date.now() < until) {
        await client.get('/crm/v2/tenant/{tenant}/customers', { params: { pageSize: 1 } }).then(
          () => (ok += 1),
          () => (failed += 1),
        );
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    }),
  );
  if (store instanceof RedisTokenStore) await store.close();
  await redis?.quit();
  console.log(JSON.stringify({ ok, failed }));
}

function runWorker(
  sandbox: Sandbox,
  redisUrl: string | undefined,
  seconds: number,
): Promise<{ ok: number; failed: number }> {
  const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url)], {
    env: {
      ...process.env,
      FIGURES_WORKER: '1',
      FIGURES_SECONDS: String(seconds),
      FIGURES_REDIS_URL: redisUrl ?? '',
      ...clientEnv(sandbox.clientOptions, 'FIGURES_'),
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  return new Promise((resolve, reject) =>
    child.on('exit', (code) => {
      if (code !== 0) reject(new Error(`worker exited with ${String(code)}: ${output}`));
      else resolve(JSON.parse(output.trim().split('\n').at(-1)!) as { ok: number; failed: number });
    }),
  );
}

/** One fleet run's figures. */
export interface FleetMeasurement {
  tokens: number;
  requests: number;
  failed: number;
  /** Token requests per renewal period (per token lifetime, less the refresh buffer). */
  perPeriod: number;
  /** The same at ServiceTitan's pace: 900 s tokens renewed 60 s early. */
  perHour: number;
}

async function measure(
  sandbox: Sandbox,
  redisUrl: string | undefined,
  k: number,
  seconds: number,
): Promise<FleetMeasurement> {
  sandbox.resetCounters();
  const results = await Promise.all(Array.from({ length: k }, () => runWorker(sandbox, redisUrl, seconds)));
  const tokens = sandbox.token.count;
  const perPeriod = tokens / (seconds / TEST_PERIOD_S);
  return {
    tokens,
    requests: results.reduce((sum, r) => sum + r.ok, 0),
    failed: results.reduce((sum, r) => sum + r.failed, 0),
    perPeriod,
    perHour: perPeriod * ST_PERIODS_PER_HOUR,
  };
}

/**
 * Runs K worker processes for the configured time, first each with its own cache, then sharing
 * a RedisTokenStore (REDIS_URL, or a throwaway redis-server), against one sandbox.
 */
export async function measureFleet(
  k = K,
  seconds = SECONDS,
): Promise<{ k: number; seconds: number; without: FleetMeasurement; withStore: FleetMeasurement }> {
  let server: RedisServer | undefined;
  const redisUrl = process.env.REDIS_URL ?? (server = await startRedisServer()).url;
  const sandbox = await startSandbox({
    tokenLifetimeMs: TOKEN_LIFETIME_S * 1000,
    rateLimit: false,
    reportRateLimit: false,
  });
  try {
    const without = await measure(sandbox, undefined, k, seconds);
    const withStore = await measure(sandbox, redisUrl, k, seconds);
    return { k, seconds, without, withStore };
  } finally {
    await sandbox.close();
    await server?.stop();
  }
}

async function main(): Promise<void> {
  console.error(`measuring: ${K} worker processes × ${SECONDS} s, without then with the Redis store…`);
  const { without, withStore } = await measureFleet(K);
  const row = (name: string, m: FleetMeasurement) =>
    `| ${name} | ${K} | ${m.requests} | ${m.failed} | ${m.tokens} | ${m.perHour.toFixed(1)} |`;
  console.log(
    `| store | workers | API requests (${SECONDS} s) | failed | token requests (${SECONDS} s; ${TOKEN_LIFETIME_S} s tokens renewed after ${TEST_PERIOD_S} s) | token requests per hour at 900 s tokens |`,
  );
  console.log('|---|---:|---:|---:|---:|---:|');
  console.log(row('none (MemoryTokenStore per process)', without));
  console.log(row('RedisTokenStore', withStore));
}

if (process.env.FIGURES_WORKER === '1') await worker();
else if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
