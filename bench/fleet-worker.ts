/**
 * One worker process of the fleet benchmark (bench/fleet.ts): a client per tenant, all sharing
 * one ioredis connection (a `Redis` or a `Cluster`) through one RedisTokenStore and one
 * RedisRateLimitStore, as a fleet worker would.
 *
 * 1. Cold start: creates the clients and sends one request per tenant, all at once; prints
 *    `cold {"ms":…,"failed":…,"poolDelayMaxMs":…}`.
 * 2. On the first line on stdin: for `seconds`, sends its share of every tenant's requests
 *    (open loop, spread evenly) and keeps `busyLoops` requests at a time going for each busy
 *    tenant (a saturated tenant: its requests wait in the limiter); prints `done {…}` and exits.
 *
 * Throughout, a probe times an `fs.stat` every 50 ms: its delay is the wait for a libuv thread
 * (what key derivation or other thread-pool work costs the rest of the process).
 */
import { readFileSync, stat } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Cluster, Redis } from 'ioredis';
import { createServiceTitanClient, type ServiceTitanClient, type ServiceTitanLogger } from '../src';
import { RedisRateLimitStore, RedisTokenStore } from '../src/redis';
import type { SandboxCredentials } from '../src/testing';
import { describeError } from './describe-error';

/** What the parent hands each worker (FLEET_BENCH_WORKER, JSON). */
export interface FleetWorkerConfig {
  appKey: string;
  authUrl: string;
  apiUrl: string;
  tenants: SandboxCredentials[];
  /** Tenant ids driven over their budget. */
  busyTenants: string[];
  /** Concurrent request loops per busy tenant in this worker. */
  busyLoops: number;
  /** This worker's requests per second for each (non-busy) tenant. */
  ratePerTenant: number;
  seconds: number;
  redis: { url: string } | { nodes: { host: string; port: number }[] };
}

export interface FleetWorkerCold {
  ms: number;
  failed: number;
  poolDelayMaxMs: number;
  fallbacks: Fallbacks;
  eventLoopDelayMaxMs: number;
}

/** Warnings that a store failed and a client went on without it (each is a degraded moment). */
export interface Fallbacks {
  /** The rate-limit store failed: the client limited itself alone (not the fleet's budget). */
  rateLimitStore: number;
  /** The token store failed: the client fetched or cached its token alone. */
  tokenStore: number;
  /** Why, by the failure's message (its numbers as `N`, so that like failures add up). */
  causes: Record<string, number>;
}

export interface FleetWorkerDone {
  ok: number;
  failed: number;
  /** Requests not sent because too many were in flight (the worker could not keep up). */
  skipped: number;
  firstError?: string;
  poolDelayMaxMs: number;
  fallbacks: Fallbacks;
  eventLoopDelayMaxMs: number;
  cpuMicros: number;
  /** ioredis `error` events and unhandled rejections in this worker (both should be 0). */
  redisErrors: number;
  unhandledRejections: number;
}

const MAX_IN_FLIGHT = 5_000;
let unhandled = 0;
const PROBE_INTERVAL_MS = 50;
const TICK_MS = 20;

/** The longest delay of a periodic `fs.stat` since the last `take()`. */
function threadPoolProbe(): { take(): number; stop(): void } {
  const file = fileURLToPath(import.meta.url);
  let max = 0;
  /** When the probe still waiting was issued (one at a time): a probe that never returns counts too. */
  let pendingSince: number | undefined;
  const timer = setInterval(() => {
    if (pendingSince !== undefined) return;
    const started = (pendingSince = performance.now());
    stat(file, () => {
      pendingSince = undefined;
      max = Math.max(max, performance.now() - started);
    });
  }, PROBE_INTERVAL_MS);
  return {
    take: () => {
      const seen = Math.max(max, pendingSince === undefined ? 0 : performance.now() - pendingSince);
      max = 0;
      return seen;
    },
    stop: () => clearInterval(timer),
  };
}

/** A logger that counts the store fallbacks (one warning per client per outage) and says nothing. */
function fallbackCounter(): { logger: ServiceTitanLogger; take(): Fallbacks } {
  const none = (): Fallbacks => ({ rateLimitStore: 0, tokenStore: 0, causes: {} });
  let counts = none();
  return {
    logger: {
      warn: (message, meta) => {
        if (message.startsWith('rate-limit store failed')) counts.rateLimitStore += 1;
        else if (message.startsWith('token store failed')) counts.tokenStore += 1;
        else return;
        // The rate-limit store's cause is in its message, the token store's in `error`.
        const error = (meta as { error?: unknown } | undefined)?.error;
        const cause = (typeof error === 'string' ? error : message).replace(/\d+/g, 'N');
        counts.causes[cause] = (counts.causes[cause] ?? 0) + 1;
      },
    },
    take: () => {
      const seen = counts;
      counts = none();
      return seen;
    },
  };
}

/** The event loop's longest delay since the last `take()` (a starved worker shows here). */
function eventLoopDelay(): { take(): number } {
  const histogram = monitorEventLoopDelay({ resolution: 10 });
  histogram.enable();
  return {
    take: () => {
      const max = histogram.max / 1e6;
      histogram.reset();
      return max;
    },
  };
}

async function main(): Promise<void> {
  // `@path`: the configuration is in that file (thousands of tenants overflow an environment variable).
  const passed = process.env.FLEET_BENCH_WORKER ?? '';
  const config = JSON.parse(
    passed.startsWith('@') ? readFileSync(passed.slice(1), 'utf8') : passed,
  ) as FleetWorkerConfig;
  const probe = threadPoolProbe();
  const fallbacks = fallbackCounter();
  const loopDelay = eventLoopDelay();
  const redis =
    'url' in config.redis ? new Redis(config.redis.url) : new Cluster(config.redis.nodes, { scaleReads: 'master' });
  // The stores are typed for an ioredis `Redis` at this commit; a `Cluster` answers the same
  // commands (typed support for Cluster comes with issue 18 item 4, on another branch).
  const connection = redis as unknown as Redis;
  // A lost connection must show in the figures, not end the worker: ioredis reconnects.
  let redisErrors = 0;
  redis.on('error', () => (redisErrors += 1));
  process.on('unhandledRejection', (reason) => {
    unhandled += 1;
    process.stderr.write(`unhandled rejection: ${describeError(reason)}\n`);
  });
  const tokenStore = new RedisTokenStore(connection);
  const rateLimitStore = new RedisRateLimitStore(connection);

  const started = performance.now();
  const clients = new Map<string, ServiceTitanClient>();
  for (const tenant of config.tenants) {
    clients.set(
      tenant.tenantId,
      createServiceTitanClient({
        clientId: tenant.clientId,
        clientSecret: tenant.clientSecret,
        appKey: config.appKey,
        environment: { authUrl: config.authUrl, apiUrl: config.apiUrl },
        tenantId: tenant.tenantId,
        store: tokenStore,
        rateLimit: { store: rateLimitStore },
        logger: fallbacks.logger,
      }),
    );
  }
  const get = (client: ServiceTitanClient) =>
    client.get('/crm/v2/tenant/{tenant}/customers', { params: { pageSize: 1 } });
  let coldFailed = 0;
  await Promise.all([...clients.values()].map((client) => get(client).catch(() => (coldFailed += 1))));
  const cold: FleetWorkerCold = {
    ms: performance.now() - started,
    failed: coldFailed,
    poolDelayMaxMs: probe.take(),
    fallbacks: fallbacks.take(),
    eventLoopDelayMaxMs: loopDelay.take(),
  };
  process.stdout.write(`cold ${JSON.stringify(cold)}\n`);

  const input = createInterface({ input: process.stdin });
  await new Promise((resolve) => input.once('line', resolve));
  input.close();
  fallbacks.take();
  loopDelay.take();

  const cpuBefore = process.cpuUsage();
  let ok = 0;
  let failed = 0;
  let skipped = 0;
  let inFlight = 0;
  let firstError: string | undefined;
  const pending = new Set<Promise<unknown>>();
  const send = (client: ServiceTitanClient): Promise<void> => {
    inFlight += 1;
    const request = get(client).then(
      () => void (ok += 1),
      (error: unknown) => {
        failed += 1;
        firstError ??= describeError(error);
      },
    );
    const tracked = request.finally(() => {
      inFlight -= 1;
      pending.delete(tracked);
    });
    pending.add(tracked);
    return tracked;
  };

  const busy = new Set(config.busyTenants);
  const steady = [...clients].filter(([tenant]) => !busy.has(tenant)).map(([, client]) => client);
  const runFrom = performance.now();
  const until = runFrom + config.seconds * 1000;
  const loops = config.busyTenants.flatMap((tenant) =>
    Array.from({ length: config.busyLoops }, async () => {
      const client = clients.get(tenant)!;
      while (performance.now() < until) await send(client);
    }),
  );
  const totalRate = steady.length * config.ratePerTenant;
  let issued = 0;
  let next = 0;
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      const now = performance.now();
      const due = Math.floor(((Math.min(now, until) - runFrom) / 1000) * totalRate) - issued;
      for (let k = 0; k < due && steady.length > 0; k += 1) {
        issued += 1;
        const client = steady[next]!;
        next = (next + 1) % steady.length;
        if (inFlight >= MAX_IN_FLIGHT) skipped += 1;
        else void send(client);
      }
      if (now >= until) {
        clearInterval(timer);
        resolve();
      }
    }, TICK_MS);
  });
  await Promise.all(loops);
  await Promise.allSettled([...pending]);
  const cpu = process.cpuUsage(cpuBefore);
  const done: FleetWorkerDone = {
    ok,
    failed,
    skipped,
    ...(firstError === undefined ? {} : { firstError }),
    poolDelayMaxMs: probe.take(),
    fallbacks: fallbacks.take(),
    eventLoopDelayMaxMs: loopDelay.take(),
    cpuMicros: cpu.user + cpu.system,
    redisErrors,
    unhandledRejections: unhandled,
  };
  probe.stop();
  await tokenStore.close();
  await rateLimitStore.close();
  await redis.quit();
  process.stdout.write(`done ${JSON.stringify(done)}\n`);
}

await main();
