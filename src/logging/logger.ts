import { createHash } from 'node:crypto';
import { emitWarningOnce } from '../process-warning';

/**
 * Where the library reports what it does. Every method is optional; messages never contain a
 * token, the client secret or the app key — tokens appear only as a {@link tokenFingerprint}.
 *
 * A logger observes and never decides (DESIGN guarantee 15): a method that throws, or returns a
 * promise that rejects or never settles, is ignored (the promise is never awaited) at the cost of
 * one `ServiceTitanAuthWarning` per process, code `ST_AUTH_OBSERVER_LOGGER`; requests go on
 * exactly as without it.
 */
export interface ServiceTitanLogger {
  debug?(message: string, details?: Record<string, unknown>): void;
  info?(message: string, details?: Record<string, unknown>): void;
  warn?(message: string, details?: Record<string, unknown>): void;
  error?(message: string, details?: Record<string, unknown>): void;
}

/** The default: says nothing. */
export const silentLogger: ServiceTitanLogger = Object.freeze({});

/**
 * A short, stable, non-reversible name for a token (8 hex chars of its SHA-256), so logs can
 * tell tokens apart without containing one.
 *
 * @example
 * console.log(`using token ${tokenFingerprint(await client.auth.getToken())}`); // "using token 1f2e3d4c"
 */
export function tokenFingerprint(token: string): string {
  return createHash('sha256').update(token).digest('hex').slice(0, 8);
}

/** What can degrade: a shared store is down and the library falls back to per-process state. */
export type DegradedCause = 'token_store' | 'rate_limit_store';

/**
 * Reports degraded operation (a shared store is down; the library carries on per process) so it
 * is visible without configuring anything: to `logger.warn` when the user gave a logger,
 * otherwise as one `process.emitWarning` per cause per process (type `ServiceTitanAuthWarning`,
 * code `ST_AUTH_DEGRADED_<CAUSE>`), which Node prints once to stderr.
 */
export function warnDegraded(
  logger: ServiceTitanLogger,
  cause: DegradedCause,
  message: string,
  details: Record<string, unknown> = {},
): void {
  warnUser(logger, `ST_AUTH_DEGRADED_${cause.toUpperCase()}`, message, {
    details,
    printedSuffix: ' (pass a logger to see recoveries and details)',
  });
}

/**
 * A warning the user must see without configuring anything: to `logger.warn` when the user gave
 * a logger, otherwise as one `process.emitWarning` per `code` per process (type
 * `ServiceTitanAuthWarning`), which Node prints to stderr.
 */
export function warnUser(
  logger: ServiceTitanLogger,
  code: string,
  message: string,
  {
    details = {},
    loggedSuffix = '',
    printedSuffix = '',
  }: { details?: Record<string, unknown>; loggedSuffix?: string; printedSuffix?: string } = {},
): void {
  if (logger !== silentLogger) {
    logger.warn?.(`${message}${loggedSuffix}`, details);
    return;
  }
  emitWarningOnce(code, `${message}${printedSuffix}`);
}
