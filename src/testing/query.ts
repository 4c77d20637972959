import type { FieldErrors } from './body-schema';

/**
 * The types ServiceTitan's specs give query parameters. ASP.NET binds them before the action
 * runs: a value that does not parse as its type is a 400 naming the parameter, whatever the
 * route would have done with it.
 */
export type QueryType = 'boolean' | 'int32' | 'int64' | 'date-time' | 'string' | 'active';

/** A route's query parameters by name (names are matched case-insensitively, as ASP.NET does). */
export type QuerySpec = Readonly<Record<string, QueryType>>;

/** A parsed query value: `undefined` when the parameter is absent or empty (every one is nullable). */
export type QueryValue = boolean | number | string | undefined;

const INT32_MAX = 2_147_483_647;

function parseValue(type: QueryType, raw: string): QueryValue | Error {
  switch (type) {
    case 'boolean': {
      const lower = raw.toLowerCase();
      return lower === 'true' ? true : lower === 'false' ? false : new Error();
    }
    case 'int32':
    case 'int64': {
      if (!/^-?\d+$/.test(raw)) return new Error();
      const n = Number(raw);
      const max = type === 'int32' ? INT32_MAX : Number.MAX_SAFE_INTEGER;
      return Math.abs(n) <= max ? n : new Error();
    }
    case 'date-time': {
      const ms = Date.parse(raw);
      return Number.isNaN(ms) ? new Error() : new Date(ms).toISOString();
    }
    case 'active': {
      const match = ['True', 'Any', 'False'].find((v) => v.toLowerCase() === raw.toLowerCase());
      return match ?? new Error();
    }
    case 'string':
      return raw;
  }
}

export type ParsedQuery = { ok: true; values: Record<string, QueryValue> } | { ok: false; errors: FieldErrors };

/**
 * Parses the parameters of `spec` from `params` (others are ignored, as ServiceTitan ignores
 * them); the last value of a repeated parameter wins.
 */
export function parseQuery(params: URLSearchParams, spec: QuerySpec): ParsedQuery {
  const values: Record<string, QueryValue> = {};
  const errors: FieldErrors = {};
  const byLowerName = new Map(Object.keys(spec).map((name) => [name.toLowerCase(), name]));
  for (const [rawName, raw] of params) {
    const name = byLowerName.get(rawName.toLowerCase());
    if (name === undefined) continue;
    if (raw === '') {
      values[name] = undefined;
      continue;
    }
    const value = parseValue(spec[name] as QueryType, raw);
    if (value instanceof Error) errors[name] = [`The value '${raw}' is not valid for ${name}.`];
    else values[name] = value;
  }
  return Object.keys(errors).length > 0 ? { ok: false, errors } : { ok: true, values };
}
