import {
  context,
  metrics,
  trace,
  type Context,
  type ContextManager,
  type Meter,
  type Tracer,
} from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider } from '@opentelemetry/sdk-trace-base';

// Real OpenTelemetry SDK providers with one fault each: what a buggy exporter, a misconfigured
// view or a broken vendor SDK looks like from the library's side. Shared by
// tests/telemetry/throwing-observers.test.ts and tests/fixtures/faulty-observers.ts.

/** Which instrument methods throw: counters' and up-down counters' `add`, histograms' `record`. */
export type InstrumentFault = 'add' | 'record' | 'add and record';

const fail = (what: string) => () => {
  throw new Error(`${what} failed (an injected SDK fault)`);
};

function faultyInstrument<T extends object>(instrument: T, fault: InstrumentFault, method: 'add' | 'record'): T {
  if (fault !== 'add and record' && fault !== method) return instrument;
  return Object.assign(Object.create(instrument) as T, { [method]: fail(`${method}()`) });
}

/** The SDK's MeterProvider, whose meters hand out instruments that throw (a real SDK Meter otherwise). */
export class ThrowingMeterProvider extends MeterProvider {
  readonly #fault: InstrumentFault;

  constructor(fault: InstrumentFault) {
    super();
    this.#fault = fault;
  }

  override getMeter(...args: Parameters<MeterProvider['getMeter']>): Meter {
    const meter = super.getMeter(...args);
    const fault = this.#fault;
    // Inherits from the SDK's meter, so it is what the library sees as "an SDK is registered".
    return Object.assign(Object.create(meter) as Meter, {
      createCounter: (...a: Parameters<Meter['createCounter']>) =>
        faultyInstrument(meter.createCounter(...a), fault, 'add'),
      createUpDownCounter: (...a: Parameters<Meter['createUpDownCounter']>) =>
        faultyInstrument(meter.createUpDownCounter(...a), fault, 'add'),
      createHistogram: (...a: Parameters<Meter['createHistogram']>) =>
        faultyInstrument(meter.createHistogram(...a), fault, 'record'),
    });
  }
}

/** Where a tracer fails: creating the span, or every method of the span it created. */
export type TracerFault = 'startSpan' | 'span methods';

/** The SDK's BasicTracerProvider, whose tracers fail as `fault` says. */
export class ThrowingTracerProvider extends BasicTracerProvider {
  readonly #fault: TracerFault;

  constructor(fault: TracerFault) {
    super();
    this.#fault = fault;
  }

  override getTracer(...args: Parameters<BasicTracerProvider['getTracer']>): Tracer {
    const tracer = super.getTracer(...args);
    if (this.#fault === 'startSpan') {
      return Object.assign(Object.create(tracer) as Tracer, {
        startSpan: fail('startSpan()'),
        startActiveSpan: fail('startActiveSpan()'),
      });
    }
    return Object.assign(Object.create(tracer) as Tracer, {
      startSpan: (...a: Parameters<Tracer['startSpan']>) =>
        Object.assign(tracer.startSpan(...a), {
          setAttribute: fail('span.setAttribute()'),
          setAttributes: fail('span.setAttributes()'),
          setStatus: fail('span.setStatus()'),
          addEvent: fail('span.addEvent()'),
          end: fail('span.end()'),
        }),
    });
  }
}

/**
 * When the context manager's `with` throws: before it runs the function (the request never
 * starts inside it), or after (the request started and must not be started again).
 */
export type ContextFault = 'with throws before running' | 'with throws after running';

export class ThrowingContextManager extends AsyncLocalStorageContextManager {
  readonly #fault: ContextFault;

  constructor(fault: ContextFault) {
    super();
    this.#fault = fault;
  }

  override with<A extends unknown[], F extends (...args: A) => ReturnType<F>>(
    ctx: Context,
    fn: F,
    thisArg?: ThisParameterType<F>,
    ...args: A
  ): ReturnType<F> {
    if (this.#fault === 'with throws before running') throw new Error('context.with() failed before running');
    super.with(ctx, fn, thisArg, ...args);
    throw new Error('context.with() failed after running');
  }
}

/** Removes every registered provider and context manager (the API's no-ops answer again). */
export function removeOpenTelemetry(): void {
  metrics.disable();
  trace.disable();
  context.disable();
}

/** Registers a working context manager (the one most applications use). */
export function registerContextManager(manager: ContextManager = new AsyncLocalStorageContextManager()): void {
  context.disable();
  context.setGlobalContextManager(manager.enable());
}
