import { invalidConfig } from './errors';
import { describe } from './urls';

const INT64_MAX = 2n ** 63n - 1n;

/**
 * A ServiceTitan tenant id as the string that goes in URLs, or `undefined` when `value` is not
 * one: a positive integer, or a string of digits denoting one up to int64 (the `tenant` path
 * parameter is an int64 in every published spec).
 */
export function normalizeTenantId(value: unknown): string | undefined {
  if (typeof value === 'string' && /^[1-9]\d{0,18}$/.test(value) && BigInt(value) <= INT64_MAX) return value;
  if (typeof value === 'number' && Number.isSafeInteger(value) && value > 0) return String(value);
  return undefined;
}

/** The `tenantId` option, normalized; `invalid_config` naming it when it is not a tenant id. */
export function tenantIdOption(tenantId: unknown): string | undefined {
  if (tenantId === undefined) return undefined;
  const tenant = normalizeTenantId(tenantId);
  if (tenant !== undefined) return tenant;
  throw invalidConfig(
    `tenantId must be a positive integer or a string of digits denoting one (ServiceTitan tenant ids are int64), got ${describe(tenantId)}`,
  );
}
