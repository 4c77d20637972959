import { randomBytes } from 'node:crypto';
import { warnDeprecatedName } from '../process-warning';
import type { RetryAfterStyle, SandboxCredentials, SandboxOptions, TokenErrorStyle } from './types';

/** Sandbox options with every default applied. */
export interface ResolvedSandboxOptions {
  apiPort: number;
  authPort: number;
  clients: SandboxCredentials[];
  appKey: string;
  requireAppKey: boolean;
  tokenLifetimeMs: number;
  scope: string;
  tokenErrorStyle: TokenErrorStyle;
  unauthorizedBody: 'problem' | 'empty';
  retryAfterStyle: RetryAfterStyle;
  customerCount: number;
  exportBatchSize: number;
  requestLogLimit: number;
  /** Requests per second per (app key, tenant), or false for no limit. */
  requestsPerSecond: number | false;
  /** Calls per minute per (tenant, report), or false for no limit. */
  reportsPerMinute: number | false;
  reportRowCount: number;
}

function hex(bytes: number): string {
  return randomBytes(bytes).toString('hex');
}

function integer(
  name: string,
  value: number | undefined,
  fallback: number,
  min: number,
  max = Number.MAX_SAFE_INTEGER,
): number {
  const n = value ?? fallback;
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new TypeError(`SandboxOptions.${name} must be an integer from ${min} to ${max}, got ${String(value)}`);
  }
  return n;
}

function oneOf<T extends string>(name: string, value: T | undefined, allowed: readonly T[]): T {
  const v = value ?? allowed[0];
  if (v === undefined || !allowed.includes(v)) {
    throw new TypeError(`SandboxOptions.${name} must be one of ${allowed.join(', ')}, got ${String(value)}`);
  }
  return v;
}

function checkClients(clients: SandboxCredentials[]): SandboxCredentials[] {
  if (clients.length === 0) throw new TypeError('SandboxOptions.clients must not be empty');
  for (const c of clients) {
    if (!c.clientId || !c.clientSecret || !c.tenantId) {
      throw new TypeError('SandboxOptions.clients: clientId, clientSecret and tenantId must be non-empty strings');
    }
  }
  return clients.map((c) => ({
    clientId: c.clientId,
    clientSecret: c.clientSecret,
    tenantId: String(c.tenantId),
  }));
}

function limitOption<K extends string>(
  name: string,
  value: Partial<Record<K, number>> | false | undefined,
  field: K,
  fallback: number,
): number | false {
  if (value === false) return false;
  if (value === undefined) return fallback;
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new TypeError(`SandboxOptions.${name} must be false or { ${field}?: number }, got ${String(value)}`);
  }
  return integer(`${name}.${field}`, value[field], fallback, 1);
}

/** `tokenLifetimeMs`, or the deprecated `tokenLifetimeSeconds` × 1000: whole seconds either way. */
function resolveTokenLifetime({ tokenLifetimeMs, tokenLifetimeSeconds }: SandboxOptions): number {
  if (tokenLifetimeSeconds === undefined) return wholeSecondsMs('tokenLifetimeMs', tokenLifetimeMs, 900_000);
  if (tokenLifetimeMs !== undefined) {
    throw new TypeError(
      'SandboxOptions.tokenLifetimeSeconds and SandboxOptions.tokenLifetimeMs are the same option (tokenLifetimeSeconds is deprecated): set only tokenLifetimeMs',
    );
  }
  warnDeprecatedName(
    'SandboxOptions.tokenLifetimeSeconds',
    'SandboxOptions.tokenLifetimeMs',
    ' (milliseconds: seconds × 1000)',
  );
  return integer('tokenLifetimeSeconds', tokenLifetimeSeconds, 900, 0) * 1000;
}

/** A duration in ms that the wire carries in whole seconds: a multiple of 1000, >= 0. */
export function isWholeSecondsMs(value: unknown): value is number {
  return typeof value === 'number' && value >= 0 && value % 1000 === 0 && Number.isSafeInteger(value / 1000);
}

function wholeSecondsMs(name: string, value: number | undefined, fallback: number): number {
  const ms = value ?? fallback;
  if (!isWholeSecondsMs(ms)) {
    throw new TypeError(
      `SandboxOptions.${name} must be a whole number of seconds in ms (a multiple of 1000, >= 0: the wire carries whole seconds), got ${String(value)}`,
    );
  }
  return ms;
}

/** Applies the defaults field by field and rejects bad values, naming the option. */
export function resolveSandboxOptions(options: SandboxOptions): ResolvedSandboxOptions {
  const appKey = options.appKey ?? `ak1.${hex(16)}`;
  if (appKey === '') throw new TypeError('SandboxOptions.appKey must not be empty');
  return {
    apiPort: integer('apiPort', options.apiPort, 0, 0, 65535),
    authPort: integer('authPort', options.authPort, 0, 0, 65535),
    clients: checkClients(
      options.clients ?? [{ clientId: `cid.sandbox${hex(8)}`, clientSecret: `cs1.${hex(24)}`, tenantId: '1000' }],
    ),
    appKey,
    requireAppKey: options.requireAppKey ?? true,
    tokenLifetimeMs: resolveTokenLifetime(options),
    scope: options.scope ?? 'tn.crm.customers:r tn.jpm.jobs:r',
    tokenErrorStyle: oneOf('tokenErrorStyle', options.tokenErrorStyle, ['oauth', 'problem']),
    unauthorizedBody: oneOf('unauthorizedBody', options.unauthorizedBody, ['problem', 'empty']),
    retryAfterStyle: oneOf('retryAfterStyle', options.retryAfterStyle, ['seconds', 'http-date', 'absent']),
    customerCount: integer('customerCount', options.customerCount, 120, 0),
    exportBatchSize: integer('exportBatchSize', options.exportBatchSize, 50, 1),
    requestLogLimit: integer('requestLogLimit', options.requestLogLimit, 10_000, 0),
    requestsPerSecond: limitOption('rateLimit', options.rateLimit, 'requestsPerSecond', 60),
    // DESIGN's facts: sources say 5 or 1 run of a report per minute per tenant; the stricter one.
    reportsPerMinute: limitOption('reportRateLimit', options.reportRateLimit, 'perMinute', 1),
    reportRowCount: integer('reportRowCount', options.reportRowCount, 75, 0),
  };
}
