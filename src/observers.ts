import type { ServiceTitanLogger } from './logging/logger';
import { emitWarningOnce } from './process-warning';

/**
 * What watches the library without steering it: the user's `logger`, and the OpenTelemetry SDK
 * the application registered (meters, tracers, the context manager).
 */
export type ObserverKind = 'logger' | 'telemetry';

const WARNING_CODE: Readonly<Record<ObserverKind, string>> = {
  logger: 'ST_AUTH_OBSERVER_LOGGER',
  telemetry: 'ST_AUTH_OBSERVER_TELEMETRY',
};

const WHO: Readonly<Record<ObserverKind, string>> = {
  logger: 'the logger given to axios-servicetitan-auth',
  telemetry: 'the OpenTelemetry SDK (a meter, tracer, span or context manager)',
};

/**
 * Calls into an observer so that it never decides (DESIGN guarantee 15). A throw, or a rejection
 * of a promise it returns, is dropped: the caller goes on exactly as without the observer. The
 * returned promise is never awaited, so one that never settles holds nothing up. Returns what the
 * call returned, or `undefined` when it threw.
 *
 * The first failure of each kind is reported once per process, as a `process.emitWarning` of
 * type `ServiceTitanAuthWarning` (code `ST_AUTH_OBSERVER_LOGGER` / `ST_AUTH_OBSERVER_TELEMETRY`):
 * not to the logger, which may be the observer that failed, and not once per client, because
 * an application with a client per tenant shares one SDK (and usually one logger) between them.
 *
 * @example
 * const span = observe('telemetry', () => tracer.startSpan(name)); // undefined if the SDK threw
 */
export function observe<R>(kind: ObserverKind, call: () => R): R | undefined {
  try {
    const result = call();
    if (isThenable(result)) {
      Promise.resolve(result).then(undefined, (error: unknown) => observerFailed(kind, error));
    }
    return result;
  } catch (error) {
    observerFailed(kind, error);
    return undefined;
  }
}

/**
 * The user's logger behind {@link observe}: every level exists (a missing one does nothing), none
 * throws, and none returns what the user's method returned, so no caller can await it. Each call
 * reads the user's method at that moment and calls it on the user's object, as a direct call would.
 */
export function guardLogger(logger: ServiceTitanLogger): Required<ServiceTitanLogger> {
  const level =
    (name: keyof ServiceTitanLogger) =>
    (message: string, details?: Record<string, unknown>): void => {
      observe('logger', () => logger[name]?.(message, details));
    };
  return Object.freeze({ debug: level('debug'), info: level('info'), warn: level('warn'), error: level('error') });
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    (typeof value === 'object' || typeof value === 'function') &&
    value !== null &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}

function observerFailed(kind: ObserverKind, error: unknown): void {
  emitWarningOnce(
    WARNING_CODE[kind],
    `${WHO[kind]} failed (${describeFailure(error)}); it is ignored and requests go on as without it. Later failures are not reported.`,
  );
}

/** The error's name and the start of its message: an observer only ever sees secret-free data. */
function describeFailure(error: unknown): string {
  try {
    if (error instanceof Error) return `${error.name}: ${error.message.slice(0, 200)}`;
    return `a non-error value: ${typeof error}`;
  } catch {
    return 'an error that cannot be described';
  }
}
