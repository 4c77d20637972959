/**
 * OpenTelemetry metrics and spans: register an SDK (here the in-memory exporters, so the example
 * prints what a dashboard would get), then use the client as usual. Nothing else is needed:
 * the library records on the global MeterProvider and TracerProvider as soon as one is registered.
 *
 *   npx tsx examples/telemetry.ts
 *     against the embedded sandbox (a local ServiceTitan emulator), with a revocation to show a
 *     renewal and its replays.
 *
 * In production, register your usual exporters (OTLP, Prometheus) instead, once, before the
 * clients are created; `telemetry: false` on a client's options turns it off for that client.
 */
import { context, metrics, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  AggregationTemporality,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
} from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { clientOptionsFromEnv, createServiceTitanClient } from 'axios-servicetitan-auth';
import { startSandbox } from 'axios-servicetitan-auth/testing';

// 1. The application's SDK setup (usually in its instrumentation file).
context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
const metricExporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
const metricReader = new PeriodicExportingMetricReader({ exporter: metricExporter, exportIntervalMillis: 60_000 });
const meterProvider = new MeterProvider({ readers: [metricReader] });
metrics.setGlobalMeterProvider(meterProvider);
const spanExporter = new InMemorySpanExporter();
const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spanExporter)] });
trace.setGlobalTracerProvider(tracerProvider);

// 2. The integration, unchanged.
// The ST_* variables when set (real ServiceTitan, or `npx axios-servicetitan-auth sandbox`);
// otherwise an embedded sandbox, which can also revoke tokens to show a renewal.
const fromEnv = clientOptionsFromEnv({ optional: true, requireTenantId: true });
const sandbox = fromEnv === undefined ? await startSandbox() : undefined;
const options = fromEnv ?? sandbox!.clientOptions;
const client = createServiceTitanClient({ ...options, rateLimit: { requestsPerSecond: 20 } });
const tracer = trace.getTracer('acme-sync');
await tracer.startActiveSpan('sync customers', async (span) => {
  // A cold burst: one token request; the rest of the burst waits in the rate limiter.
  await Promise.all(Array.from({ length: 30 }, () => client.get('/crm/v2/tenant/{tenant}/customers')));
  if (sandbox !== undefined) {
    // The token is revoked: one renewal after the 401, and a replay per rejected request.
    sandbox.revokeAllTokens();
    await Promise.all(Array.from({ length: 5 }, () => client.get('/crm/v2/tenant/{tenant}/customers')));
  }
  span.end();
});
await sandbox?.close();

// 3. What the exporters received.
await metricReader.forceFlush();
console.log('metrics:');
for (const { scopeMetrics } of metricExporter.getMetrics()) {
  for (const { descriptor, dataPoints } of scopeMetrics.flatMap((scope) => scope.metrics)) {
    for (const point of dataPoints) {
      const value =
        typeof point.value === 'number'
          ? point.value
          : `count ${point.value.count}, sum ${(point.value.sum ?? 0).toFixed(3)}`;
      const attributes = Object.entries(point.attributes)
        .filter(([name]) => name.startsWith('servicetitan.token') || name === 'error.type')
        .map(([name, attribute]) => `${name}=${String(attribute)}`)
        .join(' ');
      console.log(`  ${descriptor.name} (${descriptor.unit}) ${attributes}: ${value}`);
    }
  }
}
console.log('spans:');
for (const span of spanExporter.getFinishedSpans()) {
  const parent = span.parentSpanContext === undefined ? 'root' : `child of ${span.parentSpanContext.spanId}`;
  console.log(`  ${span.name} ${span.spanContext().spanId} (${parent}) ${JSON.stringify(span.attributes)}`);
}
await Promise.all([meterProvider.shutdown(), tracerProvider.shutdown()]);
