import { createHash } from 'node:crypto';

/**
 * Where the library reports what it does. Every method is optional; messages never contain a
 * token, the client secret or the app key — tokens appear only as a {@link tokenFingerprint}.
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
 */
export function tokenFingerprint(token: string): string {
  return createHash('sha256').update(token).digest('hex').slice(0, 8);
}
