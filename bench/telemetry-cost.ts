/**
 * Telemetry cost: CPU per cached-token request with `telemetry: false`, with telemetry on but no
 * SDK registered (the API's no-op provider), and with a registered MeterProvider (the SDK's
 * in-memory reader). No network: the instance's adapter answers at once (tokens still come from
 * the sandbox), so the figure is the interceptors' and the rate limiter's own work.
 */
import { metrics } from '@opentelemetry/api';
import { AggregationTemporality, MeterProvider, MetricReader, type Histogram } from '@opentelemetry/sdk-metrics';
import axios, { type AxiosInstance } from 'axios';
import { attachServiceTitanAuth, createServiceTitanClient } from '../src';
import { METRIC } from '../src/telemetry/instruments';
import type { BenchServer } from './server-control';
import { collectGarbage, fixed, median, runPool, table, thousands } from './stats';
import { instantAdapter } from './workloads';

export type TelemetryMode = 'off' | 'no-sdk' | 'sdk';
export type TelemetrySubject = 'attach' | 'client';

const MODE_LABELS: Record<TelemetryMode, string> = {
  off: 'telemetry: false',
  'no-sdk': 'on, no SDK registered',
  sdk: 'on, MeterProvider registered',
};
const SUBJECT_LABELS: Record<TelemetrySubject, string> = {
  attach: 'attachServiceTitanAuth',
  client: 'createServiceTitanClient (rate limit on, not binding)',
};

export interface TelemetryCostRun {
  round: number;
  subject: TelemetrySubject;
  mode: TelemetryMode;
  requests: number;
  cpuNanosPerRequest: number;
  failures: number;
  /** With a registered SDK: rate-limit waits recorded in the run (the client records one per request). */
  waitsRecorded?: number;
}

class CollectingReader extends MetricReader {
  constructor() {
    super({ aggregationTemporalitySelector: () => AggregationTemporality.CUMULATIVE });
  }
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}
}

async function waitsRecorded(reader: CollectingReader): Promise<number> {
  const { resourceMetrics } = await reader.collect();
  const metric = resourceMetrics.scopeMetrics
    .flatMap((scope) => scope.metrics)
    .find((m) => m.descriptor.name === METRIC.rateLimitWaitDuration);
  return (metric?.dataPoints ?? []).reduce((sum, point) => sum + (point.value as Histogram).count, 0);
}

function createInstance(subject: TelemetrySubject, mode: TelemetryMode, server: BenchServer): AxiosInstance {
  const { info } = server;
  const options = {
    clientId: info.clientId,
    clientSecret: info.clientSecret,
    appKey: info.appKey,
    environment: { authUrl: info.authUrl, apiUrl: info.apiUrl },
    telemetry: mode !== 'off',
  };
  if (subject === 'attach') {
    const instance = axios.create({ baseURL: info.apiUrl, adapter: instantAdapter });
    attachServiceTitanAuth(instance, options);
    return instance;
  }
  return createServiceTitanClient({
    ...options,
    rateLimit: { requestsPerSecond: 1_000_000_000 },
    axios: { adapter: instantAdapter },
  });
}

/** Rounds rotate the order of the (subject, mode) pairs, so drift of a busy machine hits each alike. */
export async function telemetryCost(
  server: BenchServer,
  { rounds, requests, concurrency }: { rounds: number; requests: number; concurrency: number },
): Promise<TelemetryCostRun[]> {
  const pairs = (['attach', 'client'] as const).flatMap((subject) =>
    (['off', 'no-sdk', 'sdk'] as const).map((mode) => ({
      subject,
      mode,
      instance: createInstance(subject, mode, server),
    })),
  );
  const url = `/crm/v2/tenant/${server.info.tenantId}/customers?pageSize=1`;
  metrics.disable();
  for (const { instance } of pairs) await runPool(requests, concurrency, () => instance.get(url)); // warm-up, token
  const runs: TelemetryCostRun[] = [];
  for (let round = 0; round < rounds; round += 1) {
    for (let k = 0; k < pairs.length; k += 1) {
      const { subject, mode, instance } = pairs[(round + k) % pairs.length]!;
      const reader = mode === 'sdk' ? new CollectingReader() : undefined;
      const provider = reader === undefined ? undefined : new MeterProvider({ readers: [reader] });
      if (provider !== undefined) metrics.setGlobalMeterProvider(provider);
      collectGarbage();
      const cpuBefore = process.cpuUsage();
      const { failures } = await runPool(requests, concurrency, () => instance.get(url));
      const cpu = process.cpuUsage(cpuBefore);
      const recorded = reader === undefined ? undefined : await waitsRecorded(reader);
      await provider?.shutdown();
      metrics.disable();
      runs.push({
        round,
        subject,
        mode,
        requests,
        cpuNanosPerRequest: ((cpu.user + cpu.system) * 1000) / requests,
        failures,
        ...(recorded === undefined ? {} : { waitsRecorded: recorded }),
      });
    }
  }
  return runs;
}

export interface TelemetryTarget {
  name: string;
  value: string;
  met: boolean;
  kind: 'correctness' | 'timing';
}

/** The markdown section, and its correctness targets (no failure; the SDK run recorded every wait). */
export function telemetryCostSection(runs: TelemetryCostRun[], targets: TelemetryTarget[]): string {
  const rounds = [...new Set(runs.map((run) => run.round))];
  const of = (subject: TelemetrySubject, mode: TelemetryMode, round: number) =>
    runs.find((run) => run.subject === subject && run.mode === mode && run.round === round)!;
  const rows: string[][] = [];
  for (const subject of ['attach', 'client'] as const) {
    for (const mode of ['off', 'no-sdk', 'sdk'] as const) {
      const own = runs.filter((run) => run.subject === subject && run.mode === mode);
      const deltas = rounds.map(
        (round) => of(subject, mode, round).cpuNanosPerRequest - of(subject, 'off', round).cpuNanosPerRequest,
      );
      rows.push([
        SUBJECT_LABELS[subject],
        MODE_LABELS[mode],
        thousands(median(own.map((run) => run.cpuNanosPerRequest))),
        mode === 'off' ? '—' : `${fixed(median(deltas), 0)} [${deltas.map((d) => fixed(d, 0)).join(', ')}]`,
        String(own.reduce((sum, run) => sum + run.failures, 0)),
        own.map((run) => (run.waitsRecorded === undefined ? '—' : thousands(run.waitsRecorded))).join(', '),
      ]);
    }
  }
  const failures = runs.reduce((sum, run) => sum + run.failures, 0);
  const missed = runs.filter(
    (run) => run.mode === 'sdk' && run.subject === 'client' && run.waitsRecorded !== run.requests,
  ).length;
  targets.push(
    { name: 'telemetry cost: no failed request', value: String(failures), met: failures === 0, kind: 'correctness' },
    {
      name: 'telemetry cost: the SDK run recorded one rate-limit wait per request',
      value: missed === 0 ? 'all runs' : `${missed} run(s) short`,
      met: missed === 0,
      kind: 'correctness',
    },
  );
  return [
    `### Telemetry cost: cached-token requests without network, ${thousands(runs[0]?.requests ?? 0)} per run, ${rounds.length} round(s)`,
    '',
    table(
      [
        'subject',
        'telemetry',
        'CPU ns per request (median)',
        'Δ vs telemetry: false, ns: median [per round]',
        'failures',
        'rate-limit waits recorded',
      ],
      rows,
    ),
    '',
    'attachServiceTitanAuth has no telemetry hook on the cached-token path; the client records one rate-limit wait (a histogram point and two UpDownCounter adds) per request.',
  ].join('\n');
}
