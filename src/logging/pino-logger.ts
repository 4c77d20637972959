import type { ServiceTitanLogger } from './logger';

/** One level method of a pino (or bunyan) logger: the details object first, then the message. */
export type PinoLogMethod = (details: object, message: string) => void;

/**
 * The part of a pino logger this adapter uses. A bunyan logger has the same shape, so it works
 * too; a `logger.child({ … })` keeps its bindings.
 */
export interface PinoLike {
  debug: PinoLogMethod;
  info: PinoLogMethod;
  warn: PinoLogMethod;
  error: PinoLogMethod;
}

/**
 * A logger that writes through pino (or bunyan), which take `(details, message)` where this
 * library's {@link ServiceTitanLogger} takes `(message, details)`: each event becomes one
 * structured line at the same level, its details as fields (tokens only as fingerprints, never
 * a secret or app key). pino is passed in rather than imported, so this library does not
 * depend on it.
 *
 * @example
 * import pino from 'pino';
 * import { createServiceTitanClient, pinoLogger } from 'axios-servicetitan-auth';
 *
 * const log = pino({ level: 'debug' });
 * const client = createServiceTitanClient({ ...options, logger: pinoLogger(log.child({ module: 'servicetitan' })) });
 */
export function pinoLogger(logger: PinoLike): ServiceTitanLogger {
  const level =
    (method: PinoLogMethod) =>
    (message: string, details?: Record<string, unknown>): void =>
      method.call(logger, details ?? {}, message);
  return {
    debug: level(logger.debug),
    info: level(logger.info),
    warn: level(logger.warn),
    error: level(logger.error),
  };
}
