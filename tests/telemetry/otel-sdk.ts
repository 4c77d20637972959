import { context, metrics, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  AggregationTemporality,
  DataPointType,
  MeterProvider,
  MetricReader,
  type DataPoint,
  type Histogram,
} from '@opentelemetry/sdk-metrics';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
  type ReadableSpan,
} from '@opentelemetry/sdk-trace-base';

/** A reader the test collects from on demand (the SDK's in-memory reader). */
class CollectingReader extends MetricReader {
  constructor() {
    super({ aggregationTemporalitySelector: () => AggregationTemporality.CUMULATIVE });
  }
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}
}

export type Point = DataPoint<number> | DataPoint<Histogram>;

export interface Collected {
  /** Every data point of every instrument, by instrument name. */
  points: Map<string, { type: DataPointType; unit: string; points: Point[] }>;
  /** Sum of a counter's points whose attributes include `match`. */
  sum(name: string, match?: Record<string, unknown>): number;
  /** Summed count and sum of a histogram's points whose attributes include `match`. */
  histogram(name: string, match?: Record<string, unknown>): { count: number; sum: number };
}

export interface OtelHarness {
  /** Registers a MeterProvider now (for tests that start without one). */
  registerMeterProvider(): void;
  collect(): Promise<Collected>;
  spans(): ReadableSpan[];
}

const matches = (attributes: Record<string, unknown>, match: Record<string, unknown>) =>
  Object.entries(match).every(([key, value]) => attributes[key] === value);

/** A registered SDK, and how to remove it. */
export interface RegisteredOpenTelemetry extends OtelHarness {
  /** Shuts the providers down and unregisters them (and the context manager). */
  unregister(): Promise<void>;
}

/**
 * Registers the SDK (in-memory metric reader, in-memory span exporter, async-hooks context
 * manager) globally now; `unregister()` removes it. For a test condition that sets itself up
 * (tests/seams); a describe uses {@link useOpenTelemetry}.
 */
export function registerOpenTelemetry({
  meterProvider = true,
}: { meterProvider?: boolean } = {}): RegisteredOpenTelemetry {
  let reader: CollectingReader | undefined;
  let provider: MeterProvider | undefined;

  const registerMeterProvider = () => {
    reader = new CollectingReader();
    provider = new MeterProvider({ readers: [reader] });
    metrics.setGlobalMeterProvider(provider);
  };

  metrics.disable();
  trace.disable();
  context.disable();
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  const exporter = new InMemorySpanExporter();
  const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  trace.setGlobalTracerProvider(tracerProvider);
  if (meterProvider) registerMeterProvider();

  return {
    registerMeterProvider,
    spans: () => exporter.getFinishedSpans(),
    async unregister() {
      await provider?.shutdown();
      await tracerProvider.shutdown();
      reader = undefined;
      provider = undefined;
      metrics.disable();
      trace.disable();
      context.disable();
    },
    async collect() {
      const points: Collected['points'] = new Map();
      if (reader !== undefined) {
        const { resourceMetrics, errors } = await reader.collect();
        if (errors.length > 0) throw new Error(`metric collection failed: ${String(errors[0])}`);
        for (const scope of resourceMetrics.scopeMetrics) {
          for (const metric of scope.metrics) {
            points.set(metric.descriptor.name, {
              type: metric.dataPointType,
              unit: metric.descriptor.unit,
              points: metric.dataPoints as Point[],
            });
          }
        }
      }
      const select = (name: string, match: Record<string, unknown>) =>
        (points.get(name)?.points ?? []).filter((p) => matches(p.attributes, match));
      return {
        points,
        sum: (name, match = {}) => select(name, match).reduce((total, p) => total + (p.value as number), 0),
        histogram: (name, match = {}) =>
          select(name, match).reduce(
            (total, p) => ({
              count: total.count + (p.value as Histogram).count,
              sum: total.sum + ((p.value as Histogram).sum ?? 0),
            }),
            { count: 0, sum: 0 },
          ),
      };
    },
  };
}

/**
 * Registers the SDK (see {@link registerOpenTelemetry}) before each test of the enclosing
 * describe and removes it after.
 */
export function useOpenTelemetry(options: { meterProvider?: boolean } = {}): OtelHarness {
  let registered: RegisteredOpenTelemetry | undefined;
  const current = () => {
    if (registered === undefined) throw new Error('OpenTelemetry is only registered inside a test');
    return registered;
  };
  beforeEach(() => {
    registered = registerOpenTelemetry(options);
  });
  afterEach(async () => {
    await registered?.unregister();
    registered = undefined;
  });
  return {
    registerMeterProvider: () => current().registerMeterProvider(),
    collect: () => current().collect(),
    spans: () => current().spans(),
  };
}
