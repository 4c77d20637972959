import { createInstruments, INSTRUMENTATION_SCOPE, type Instruments } from './instruments';
import type { OpenTelemetryApi } from './optional-api';

let cachedProvider: unknown;
let cachedInstruments: Instruments | undefined;
let noopMeterClass: unknown;

/**
 * The instruments on the global MeterProvider's meter, or `undefined` while no SDK is
 * registered (the API's no-op provider): callers then skip even building attributes. One
 * module-wide cache, keyed by the provider, so every client shares one set of instruments and an
 * SDK registered after a client was created is picked up on its next data point.
 */
export function currentInstruments(api: OpenTelemetryApi): Instruments | undefined {
  const provider = api.metrics.getMeterProvider();
  if (provider !== cachedProvider) {
    cachedProvider = provider;
    const meter = provider.getMeter(INSTRUMENTATION_SCOPE);
    noopMeterClass ??= api.createNoopMeter().constructor;
    cachedInstruments = meter.constructor === noopMeterClass ? undefined : createInstruments(meter);
  }
  return cachedInstruments;
}
