import { invalidConfig } from '../errors';
import { describe } from '../urls';
import { observe } from '../observers';
import {
  ATTRIBUTE,
  clientAttributes,
  type Attributes,
  type ClientIdentity,
  type StoreKind,
  type TokenRequestReason,
} from './attributes';
import { currentInstruments } from './metrics';
import { loadOpenTelemetryApi, type OpenTelemetryApi } from './optional-api';
import { TokenRequestTracer } from './token-request-tracer';

/** One rate-limited request's stay in the queue: end it exactly once, either way. */
export interface RateLimitWait {
  /** The request got its permits and is being sent: records how long it waited. */
  sent(): void;
  /** The request left the queue without being sent (aborted, failed): records nothing. */
  abandoned(): void;
}

/**
 * The hooks the rest of the library calls, one line each, at the moments operators ask about.
 * Every method is cheap and never throws, whatever the registered SDK does: each call into it
 * goes through `observe()` (src/observers.ts), so an SDK that throws costs one
 * `ServiceTitanAuthWarning` per process and changes no request (DESIGN guarantee 15). The no-op
 * version (telemetry off, or no `@opentelemetry/api`) does nothing at all.
 */
export interface ClientTelemetry {
  /**
   * A token fetch is starting, for `reason`, on behalf of the request whose context is active
   * now: call it where the single flight starts, so the fetch's span gets that request as parent.
   */
  tokenFetchStarting(reason: TokenRequestReason): void;
  /** Runs one token request (all its attempts) as a span, counting and timing it. */
  traceTokenRequest<T>(request: () => Promise<T>): Promise<T>;
  /** A token request attempt failed and is retried (axios-retry's `onRetry`). */
  tokenRequestRetried(error: unknown): void;
  /** An API request is replayed with a renewed token after a 401. */
  replayed(): void;
  /** An API 401 goes to the caller without a renewal (the renewal cooldown held it back). */
  renewalHeldBack(): void;
  /** An API request enters the client-side rate limiter. */
  rateLimitWait(): RateLimitWait;
  /** A shared store failed, so this process does the work itself. */
  storeFallback(store: StoreKind): void;
}

const NOOP_WAIT: RateLimitWait = Object.freeze({ sent() {}, abandoned() {} });

/** Telemetry that records nothing: `telemetry: false`, or `@opentelemetry/api` not installed. */
export const noopTelemetry: ClientTelemetry = Object.freeze({
  tokenFetchStarting() {},
  traceTokenRequest: <T>(request: () => Promise<T>) => request(),
  tokenRequestRetried() {},
  replayed() {},
  renewalHeldBack() {},
  rateLimitWait: () => NOOP_WAIT,
  storeFallback() {},
});

/**
 * Validates the `telemetry` option and builds the client's telemetry: recording through the
 * global OpenTelemetry API when it is on (the default) and `@opentelemetry/api` is installed,
 * otherwise {@link noopTelemetry}. Whether an SDK is registered is checked per data point, so
 * without one nothing is recorded and every hook is a no-op call.
 */
export function createClientTelemetry(enabled: unknown, identity: ClientIdentity): ClientTelemetry {
  if (enabled !== undefined && typeof enabled !== 'boolean') {
    throw invalidConfig(`telemetry must be true or false, got ${describe(enabled)}`);
  }
  if (enabled === false) return noopTelemetry;
  const api = loadOpenTelemetryApi();
  if (api === undefined) return noopTelemetry;
  const attributes = clientAttributes(identity);
  const tokenTracer = new TokenRequestTracer(api, identity, attributes);
  // Every call into the SDK goes through observe(): an SDK that throws costs one warning per
  // process and no request (DESIGN guarantee 15). traceTokenRequest guards itself, around the request.
  const record = (call: () => unknown): void => void observe('telemetry', call);
  // Made once: rateLimitWait runs for every request of a client.
  const startRateLimitWait = () => recordRateLimitWait(api, attributes);

  return {
    tokenFetchStarting: (reason) => record(() => tokenTracer.starting(reason)),
    traceTokenRequest: (request) => tokenTracer.trace(request),
    tokenRequestRetried: (error) => record(() => tokenTracer.retried(error)),
    replayed: () => record(() => currentInstruments(api)?.replays.add(1, attributes)),
    renewalHeldBack: () => record(() => currentInstruments(api)?.renewalsHeldBack.add(1, attributes)),
    storeFallback: (store) =>
      record(() => currentInstruments(api)?.storeFallbacks.add(1, { ...attributes, [ATTRIBUTE.store]: store })),
    rateLimitWait: () => observe('telemetry', startRateLimitWait) ?? NOOP_WAIT,
  };
}

/** Counts the request as waiting now; its {@link RateLimitWait} ends the wait, each end behind observe(). */
function recordRateLimitWait(api: OpenTelemetryApi, attributes: Attributes): RateLimitWait {
  const instruments = currentInstruments(api);
  if (instruments === undefined) return NOOP_WAIT;
  instruments.rateLimitWaiting.add(1, attributes);
  const enqueuedAt = performance.now();
  let open = true;
  const leave = (): boolean => {
    if (!open) return false;
    open = false;
    instruments.rateLimitWaiting.add(-1, attributes);
    return true;
  };
  return {
    sent: () => {
      observe('telemetry', () => {
        if (leave()) instruments.rateLimitWaitDuration.record((performance.now() - enqueuedAt) / 1000, attributes);
      });
    },
    abandoned: () => {
      observe('telemetry', leave);
    },
  };
}
