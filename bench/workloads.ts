/** The workloads: each returns raw figures; bench/index.ts judges and prints them. */
import { performance } from 'node:perf_hooks';
import type { AxiosResponse, InternalAxiosRequestConfig } from 'axios';
import { measureFleet } from '../scripts/fleet-figures';
import type { BenchServer } from './server-control';
import { collectGarbage, describeError, quantile, runPool } from './stats';
import { createSubject, type Subject, type VariantName } from './variants';

export interface ThroughputConfig {
  variants: VariantName[];
  rounds: number;
  requestsPerRound: number;
  warmupRequests: number;
  concurrency: number;
}

export interface ThroughputRun {
  round: number;
  variant: VariantName;
  requests: number;
  ms: number;
  requestsPerSecond: number;
  /** Client process CPU (user + system) per request, µs. */
  cpuMicrosPerRequest: number;
  failures: number;
  firstError?: string;
}

async function timedRun(
  subject: Subject,
  total: number,
  concurrency: number,
): Promise<Omit<ThroughputRun, 'round' | 'variant'>> {
  collectGarbage();
  const cpuBefore = process.cpuUsage();
  const start = performance.now();
  const { failures, firstError } = await runPool(total, concurrency, () => subject.instance.get(subject.url));
  const ms = performance.now() - start;
  const cpu = process.cpuUsage(cpuBefore);
  return {
    requests: total,
    ms,
    requestsPerSecond: (total / ms) * 1000,
    cpuMicrosPerRequest: (cpu.user + cpu.system) / total,
    failures,
    ...(firstError === undefined ? {} : { firstError: describeError(firstError) }),
  };
}

/**
 * Throughput: every variant warms up, then rounds run the variants one after the other, the
 * order rotating each round, so that drift of a noisy machine hits every variant alike.
 */
export async function throughput(server: BenchServer, config: ThroughputConfig): Promise<ThroughputRun[]> {
  const subjects = await Promise.all(
    config.variants.map((name) => createSubject(name, server.info, { maxSockets: config.concurrency })),
  );
  for (const subject of subjects) await timedRun(subject, config.warmupRequests, config.concurrency);
  const runs: ThroughputRun[] = [];
  for (let round = 0; round < config.rounds; round += 1) {
    for (let k = 0; k < subjects.length; k += 1) {
      const subject = subjects[(round + k) % subjects.length]!;
      runs.push({
        round,
        variant: subject.name,
        ...(await timedRun(subject, config.requestsPerRound, config.concurrency)),
      });
    }
  }
  for (const subject of subjects) subject.dispose();
  return runs;
}

export interface PipelineRun {
  round: number;
  variant: VariantName;
  requests: number;
  /** Client CPU (user + system) per request through axios with a no-network adapter, ns. */
  cpuNanosPerRequest: number;
  failures: number;
}

/** An adapter that answers at once: what is left is axios's pipeline and the interceptors. */
export const instantAdapter = (config: InternalAxiosRequestConfig): Promise<AxiosResponse> =>
  Promise.resolve({ data: {}, status: 200, statusText: 'OK', headers: {}, config, request: {} });

/**
 * An adapter that answers on the next turn of the event loop, as any I/O does. With
 * {@link instantAdapter} a whole run is one chain of microtasks: work that a client defers to
 * the event loop (a `setImmediate`) piles up until the run ends, and its garbage is counted in
 * the run's CPU, which no real adapter would cause.
 */
export const nextTurnAdapter = (config: InternalAxiosRequestConfig): Promise<AxiosResponse> =>
  new Promise((resolve) => setImmediate(() => resolve(instantAdapter(config))));

/**
 * Interceptor overhead without the network: every variant's instance gets an adapter that
 * answers at once (tokens still come from the sandbox), so the cost measured is axios's
 * pipeline plus the auth interceptors, free of socket and server noise.
 */
export async function pipeline(
  server: BenchServer,
  variants: VariantName[],
  rounds: number,
  requests: number,
  concurrency: number,
  adapter: typeof instantAdapter = instantAdapter,
): Promise<PipelineRun[]> {
  const subjects = await Promise.all(
    variants.map((name) => createSubject(name, server.info, { maxSockets: concurrency, adapter })),
  );
  for (const subject of subjects) await runPool(requests, concurrency, () => subject.instance.get(subject.url)); // warm-up
  const runs: PipelineRun[] = [];
  for (let round = 0; round < rounds; round += 1) {
    for (let k = 0; k < subjects.length; k += 1) {
      const subject = subjects[(round + k) % subjects.length]!;
      collectGarbage();
      const cpuBefore = process.cpuUsage();
      const { failures } = await runPool(requests, concurrency, () => subject.instance.get(subject.url));
      const cpu = process.cpuUsage(cpuBefore);
      runs.push({
        round,
        variant: subject.name,
        requests,
        cpuNanosPerRequest: ((cpu.user + cpu.system) * 1000) / requests,
        failures,
      });
    }
  }
  for (const subject of subjects) subject.dispose();
  return runs;
}

export interface TokenCountRun {
  round: number;
  variant: VariantName;
  requests: number;
  tokenRequests: number;
  failures: number;
  /** API requests beyond the ones sent (401 replays). */
  extraApiRequests: number;
  ms: number;
  firstError?: string;
}

/** Cold burst: `requests` concurrent requests on a fresh client that has no token yet. */
export async function coldBurst(
  server: BenchServer,
  variants: VariantName[],
  rounds: number,
  requests: number,
): Promise<TokenCountRun[]> {
  const runs: TokenCountRun[] = [];
  for (let round = 0; round < rounds; round += 1) {
    for (const variant of variants) {
      const subject = await createSubject(variant, server.info, { maxSockets: requests });
      const before = await server.counters();
      const start = performance.now();
      const { failures, firstError } = await runPool(requests, requests, () => subject.instance.get(subject.url));
      const ms = performance.now() - start;
      const after = await server.counters();
      subject.dispose();
      runs.push({
        round,
        variant,
        requests,
        tokenRequests: after.token - before.token,
        failures,
        extraApiRequests: after.api - before.api - requests,
        ms,
        ...(firstError === undefined ? {} : { firstError: describeError(firstError) }),
      });
    }
  }
  return runs;
}

/**
 * Revocation storm: a client with a good token sends `requests` requests, which the server holds
 * in flight; every token is revoked, the hold released, so all of them get a 401 at once.
 */
export async function revocationStorm(
  server: BenchServer,
  variants: VariantName[],
  rounds: number,
  requests: number,
): Promise<TokenCountRun[]> {
  const runs: TokenCountRun[] = [];
  for (let round = 0; round < rounds; round += 1) {
    for (const variant of variants) {
      const subject = await createSubject(variant, server.info, { maxSockets: requests });
      await subject.instance.get(subject.url); // gets (and caches) a token
      await server.hold();
      let failures = 0;
      let firstError: unknown;
      const inFlight = Array.from({ length: requests }, () =>
        subject.instance.get(subject.url).catch((error: unknown) => {
          failures += 1;
          firstError ??= error;
        }),
      );
      await server.untilWaiting(requests);
      const before = await server.counters();
      await server.revokeAll();
      const start = performance.now();
      await server.release();
      await Promise.all(inFlight);
      const ms = performance.now() - start;
      const after = await server.counters();
      subject.dispose();
      runs.push({
        round,
        variant,
        requests,
        tokenRequests: after.token - before.token,
        failures,
        extraApiRequests: after.api - before.api,
        ms,
        ...(firstError === undefined ? {} : { firstError: describeError(firstError) }),
      });
    }
  }
  return runs;
}

export interface RotationRun {
  round: number;
  variant: VariantName;
  /** A control run: long-lived token, no renewal; the "renewal" window is where it would be. */
  control: boolean;
  requests: number;
  failures: number;
  tokenRequests: number;
  /** When the renewal's token request started / ended, ms after the first token request. */
  renewalStartMs: number;
  renewalEndMs: number;
  steady: { count: number; p50: number; p99: number };
  /** Requests in flight at any time during the renewal. */
  around: { count: number; p50: number; p99: number };
}

export interface RotationConfig {
  variants: VariantName[];
  rounds: number;
  concurrency: number;
  tokenLifetimeMs: number;
  refreshBufferMs: number;
  /** The renewal's token request is answered this late (a real token endpoint is not instant). */
  renewalDelayMs: number;
  /** How long each run lasts, ms after the first token request. */
  durationMs: number;
  /**
   * Also run `library` against this server (long-lived tokens: no renewal), with the window
   * placed where the renewal would be: the noise floor of the Δp99 figure.
   */
  controlServer?: BenchServer;
}

/**
 * Rotation: a closed loop of requests over a token's renewal point; latencies of requests in
 * flight during the renewal against those of the steady state before it.
 */
export async function rotation(server: BenchServer, config: RotationConfig): Promise<RotationRun[]> {
  const runs: RotationRun[] = [];
  const plan: { variant: VariantName; server: BenchServer; control: boolean }[] = config.variants.map((variant) => ({
    variant,
    server,
    control: false,
  }));
  if (config.controlServer !== undefined)
    plan.push({ variant: 'library', server: config.controlServer, control: true });
  for (let round = 0; round < config.rounds; round += 1) {
    for (const { variant, server, control } of plan) {
      const tokenTimes: { start: number; end: number }[] = [];
      const subject = await createSubject(variant, server.info, {
        maxSockets: config.concurrency,
        refreshBufferMs: config.refreshBufferMs,
        hooks: {
          onTokenRequestStart: () => tokenTimes.push({ start: performance.now(), end: Number.NaN }),
          onTokenRequestEnd: () => {
            const last = tokenTimes.at(-1);
            if (last !== undefined) last.end = performance.now();
          },
        },
      });
      const before = await server.counters();
      await subject.instance.get(subject.url);
      const t0 = tokenTimes[0]?.start ?? performance.now();
      if (control) {
        const at = t0 + config.tokenLifetimeMs - config.refreshBufferMs;
        tokenTimes.push({ start: at, end: at + config.renewalDelayMs });
      } else {
        await server.delayNextToken(config.renewalDelayMs);
      }
      const starts: number[] = [];
      const ends: number[] = [];
      const stopAt = t0 + config.durationMs;
      let failures = 0;
      const worker = async (): Promise<void> => {
        while (performance.now() < stopAt) {
          const start = performance.now();
          try {
            await subject.instance.get(subject.url);
          } catch {
            failures += 1;
          }
          starts.push(start);
          ends.push(performance.now());
        }
      };
      await Promise.all(Array.from({ length: config.concurrency }, worker));
      const after = await server.counters();
      subject.dispose();

      const renewal = tokenTimes[1];
      const renewalStart = renewal?.start ?? Number.NaN;
      const renewalEnd = renewal?.end ?? Number.NaN;
      const steady: number[] = [];
      const around: number[] = [];
      for (let i = 0; i < starts.length; i += 1) {
        const start = starts[i]!;
        const end = ends[i]!;
        const latency = end - start;
        if (start >= t0 + 500 && end < renewalStart - 100) steady.push(latency);
        else if (start <= renewalEnd && end >= renewalStart) around.push(latency);
      }
      const summary = (values: number[]) => ({
        count: values.length,
        p50: quantile(values, 0.5),
        p99: quantile(values, 0.99),
      });
      runs.push({
        round,
        variant,
        control,
        requests: starts.length,
        failures,
        tokenRequests: after.token - before.token,
        renewalStartMs: renewalStart - t0,
        renewalEndMs: renewalEnd - t0,
        steady: summary(steady),
        around: summary(around),
      });
    }
  }
  return runs;
}

export interface MemoryRun {
  variant: VariantName;
  firstCheckpoint: number;
  secondCheckpoint: number;
  heapAtFirst: number;
  heapAtSecond: number;
  growth: number;
  failures: number;
  gcExposed: boolean;
}

/** Heap (after a full GC) after `firstCheckpoint` requests and again after `secondCheckpoint`. */
export async function memory(
  server: BenchServer,
  variants: VariantName[],
  concurrency: number,
  firstCheckpoint: number,
  secondCheckpoint: number,
): Promise<MemoryRun[]> {
  const runs: MemoryRun[] = [];
  for (const variant of variants) {
    const subject = await createSubject(variant, server.info, { maxSockets: concurrency });
    const first = await runPool(firstCheckpoint, concurrency, () => subject.instance.get(subject.url));
    const gcExposed = collectGarbage();
    const heapAtFirst = process.memoryUsage().heapUsed;
    const second = await runPool(secondCheckpoint - firstCheckpoint, concurrency, () =>
      subject.instance.get(subject.url),
    );
    collectGarbage();
    const heapAtSecond = process.memoryUsage().heapUsed;
    subject.dispose();
    runs.push({
      variant,
      firstCheckpoint,
      secondCheckpoint,
      heapAtFirst,
      heapAtSecond,
      growth: heapAtSecond - heapAtFirst,
      failures: first.failures + second.failures,
      gcExposed,
    });
  }
  return runs;
}

export type FleetResult = Awaited<ReturnType<typeof measureFleet>>;

/**
 * Fleet: K worker processes against one sandbox with 4 s tokens, first each with its own cache,
 * then sharing a RedisTokenStore (scripts/fleet-figures.ts does the work; REDIS_URL or a
 * throwaway redis-server). Target: about one token request per token lifetime with the store.
 */
export function fleet(workers: number, seconds: number): Promise<FleetResult> {
  return measureFleet(workers, seconds);
}
