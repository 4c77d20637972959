/**
 * The worker CPU of the shared rate-limit budget alone (no HTTP): `--tenants` SharedBudgets on one
 * RedisRateLimitStore and one redis-server, one request every `1000 / tenants` ms round robin (1
 * request per second per tenant, ServiceTitan's large fleets), each written `--write-delay-ms`
 * after its place (more than 1 ms: it needs a write-time report). Prints the process's CPU per
 * request and Redis script calls per request. `--src` runs another checkout's `src` (interleave
 * rounds with main's to compare; never wall time on a shared machine).
 *
 *   node --import tsx bench/rate-limit-store-cpu.ts [--tenants=100] [--seconds=10] [--write-delay-ms=3] [--src=DIR]
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { startRedisServer } from '../tests/helpers/redis-server';
import { scriptCalls } from '../tests/helpers/redis-script-calls';

function flag(name: string, fallback: string): string {
  const found = process.argv.find((arg) => arg.startsWith(`--${name}=`));
  return found === undefined ? fallback : found.slice(name.length + 3);
}

const tenants = Number(flag('tenants', '100'));
const seconds = Number(flag('seconds', '10'));
const writeDelayMs = Number(flag('write-delay-ms', '3'));
const src = path.resolve(flag('src', fileURLToPath(new URL('../src', import.meta.url))));
const { RedisRateLimitStore } = (await import(path.join(src, 'redis.ts'))) as typeof import('../src/redis');
const { SharedBudget } = (await import(
  path.join(src, 'rate-limit', 'shared-budget.ts')
)) as typeof import('../src/rate-limit/shared-budget');

const server = await startRedisServer();
const redis = new Redis(server.url);
try {
  await redis.ping();
  const store = new RedisRateLimitStore(redis);
  const budgets = Array.from(
    { length: tenants },
    (_, index) =>
      new SharedBudget({
        store,
        key: `tenant-${index}`,
        limit: 60,
        windowMs: 1000,
        windowMarginMs: 40,
        logger: {},
        fellBack: () => undefined,
      }),
  );
  const signal = new AbortController().signal;
  // Warm-up: every budget once, the scripts loaded, then the window empties.
  for (const budget of budgets) (await budget.take(signal)).sent();
  await new Promise((resolve) => setTimeout(resolve, 1_500));
  const callsBefore = await scriptCalls(redis);
  const cpuBefore = process.cpuUsage();
  let requests = 0;
  const until = performance.now() + seconds * 1000;
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      if (performance.now() >= until) {
        clearInterval(timer);
        resolve();
        return;
      }
      const budget = budgets[requests % tenants]!;
      requests += 1;
      void budget.take(signal).then((place) => setTimeout(() => place.sent(), writeDelayMs));
    }, 1000 / tenants);
  });
  // The last writes' reports go within half a window.
  await new Promise((resolve) => setTimeout(resolve, 700));
  const cpu = process.cpuUsage(cpuBefore);
  const calls = (await scriptCalls(redis)) - callsBefore;
  console.log(
    JSON.stringify({
      src: path.relative(process.cwd(), src) || '.',
      tenants,
      requests,
      cpuMicrosPerRequest: Math.round((cpu.user + cpu.system) / requests),
      scriptCallsPerRequest: Number((calls / requests).toFixed(2)),
    }),
  );
} finally {
  redis.disconnect();
  await server.stop();
}
