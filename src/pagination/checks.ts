import { isDeepStrictEqual } from 'node:util';
import { CanceledError, type AxiosInstance } from 'axios';
import { ServiceTitanResponseError, invalidConfig } from '../errors';
import { describe } from '../urls';

/** The options every paging iterator shares. */
export interface CommonPagingOptions {
  params?: Record<string, unknown>;
  signal?: AbortSignal;
}

/** Throws `invalid_config` naming the argument when the client, url, params or signal is unusable. */
export function checkCommon(name: string, client: unknown, url: unknown, options: CommonPagingOptions): void {
  checkClient(name, client);
  if (typeof url !== 'string' || url.trim() === '') {
    throw invalidConfig(`${name}: url must be a non-empty string, got ${describe(url)}`);
  }
  checkOptionsObject(name, options);
  const { params, signal } = options;
  if (params !== undefined && (params === null || typeof params !== 'object' || Array.isArray(params))) {
    throw invalidConfig(`${name}: params must be an object of query parameters, got ${describe(params)}`);
  }
  checkSignal(name, signal);
}

export function checkClient(name: string, client: unknown): asserts client is AxiosInstance {
  if (typeof (client as { get?: unknown } | null)?.get !== 'function') {
    throw invalidConfig(`${name}: client must be an axios instance, got ${describe(client)}`);
  }
}

export function checkOptionsObject(name: string, options: unknown): void {
  if (options === null || typeof options !== 'object') {
    throw invalidConfig(`${name}: options must be an object, got ${describe(options)}`);
  }
}

export function checkSignal(name: string, signal: unknown): void {
  if (signal !== undefined && typeof (signal as { aborted?: unknown } | null)?.aborted !== 'boolean') {
    throw invalidConfig(`${name}: signal must be an AbortSignal, got ${describe(signal)}`);
  }
}

/** Validates an optional integer option in [min, max]; returns it or the default. */
export function integerOption(
  name: string,
  option: string,
  value: unknown,
  min: number,
  max: number,
  fallback: number,
): number {
  if (value === undefined) return fallback;
  if (!isIntegerIn(value, min, max)) {
    throw invalidConfig(`${name}: ${option} must be an integer from ${min} to ${max}, got ${describe(value)}`);
  }
  return value;
}

export function isIntegerIn(value: unknown, min: number, max: number): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max;
}

/** The URL without its query string (which may hold an application key), for messages. */
export function urlForMessages(url: string): string {
  return url.split(/[?#]/)[0] ?? '';
}

export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new CanceledError();
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** What a body is, for messages: its type and top-level keys, never its values. */
export function shapeOf(body: unknown): string {
  if (isRecord(body)) {
    const keys = Object.keys(body);
    const shown = keys.slice(0, 8).join(', ');
    return keys.length === 0 ? 'an empty object' : `an object with keys ${shown}${keys.length > 8 ? ', …' : ''}`;
  }
  if (typeof body === 'string') return body === '' ? 'an empty body' : 'a non-JSON body';
  return describe(body);
}

/**
 * Throws when a page body names another page than the one requested (a server that ignores
 * `page`, or answers `page: 0`): following `hasMore` would then loop forever (issue 10, item 9).
 * A body without `page` is taken at its word.
 */
export function checkPageNumber(body: Record<string, unknown>, requested: number, what: string, where: string): void {
  const answered = body['page'];
  if (answered === undefined || answered === requested) return;
  const shown = typeof answered === 'number' ? String(answered) : describe(answered);
  throw new ServiceTitanResponseError(
    where,
    `${what} page ${requested} answered page ${shown}; the server does not advance pages, stopping instead of looping forever`,
  );
}

/**
 * Throws when a page holds exactly the items of the page before it: a server that ignores `page`
 * and leaves it out of the body answers the first page again and again, and `hasMore` would be
 * followed forever (issue 17, item 8). Two pages of a list never hold the same items (each has
 * its id), and the comparison stops at the first item that differs. Empty pages end the
 * iteration anyway.
 */
export function checkPageAdvanced(
  previous: { page: number; data: readonly unknown[] },
  current: { page: number; data: readonly unknown[] },
  what: string,
  where: string,
): void {
  if (current.data.length === 0 || !isDeepStrictEqual(previous.data, current.data)) return;
  throw new ServiceTitanResponseError(
    where,
    `${what} page ${current.page} holds the same ${current.data.length} items as page ${previous.page}; the server ignores \`page\`, stopping instead of looping forever`,
  );
}
