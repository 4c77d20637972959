import { CanceledError, type AxiosInstance, type AxiosRequestConfig } from 'axios';
import { ServiceTitanResponseError, invalidConfig } from './errors';
import { describe } from './urls';

/** ServiceTitan's largest `pageSize`. */
const MAX_PAGE_SIZE = 5000;

/** Options of {@link paginate} and {@link paginatePages}. */
export interface PaginateOptions {
  /** Extra query parameters sent with every page (e.g. `{ active: true, includeTotal: true }`). `page` is set by the iterator. @default {} */
  params?: Record<string, unknown>;
  /** Items per page, an integer from 1 to 5000. @default not sent: the server's default (50 on ServiceTitan) */
  pageSize?: number;
  /** The first page to fetch (pages count from 1). @default 1 */
  startPage?: number;
  /** Aborts the request in flight and ends the iteration with axios's `CanceledError`. */
  signal?: AbortSignal;
}

/** One page of a ServiceTitan list, as {@link paginatePages} yields it. */
export interface ListPage<T> {
  /** The page number that was requested (from 1). */
  page: number;
  /** Whether the server said more pages follow. */
  hasMore: boolean;
  /** The server's `totalCount` (sent when `includeTotal: true` is in `params`), else null. */
  totalCount: number | null;
  data: T[];
}

/** Options of {@link exportPages}. */
export interface ExportPagesOptions {
  /**
   * Where to start: a `continueFrom` saved from an earlier batch (to resume), or a date (sent as
   * an ISO 8601 string). @default not sent: the feed starts from the beginning
   */
  from?: string | Date;
  /** Extra query parameters sent with every batch. `from` is set by the iterator. @default {} */
  params?: Record<string, unknown>;
  /** Aborts the request in flight and ends the iteration with axios's `CanceledError`. */
  signal?: AbortSignal;
}

/** One batch of a ServiceTitan export feed, as {@link exportPages} yields it. */
export interface ExportBatch<T> {
  data: T[];
  /** Pass this as `from` to continue after this batch, now or in a later run: checkpoint it. */
  continueFrom: string;
  /** Whether more batches follow right now. */
  hasMore: boolean;
}

/**
 * Iterates over the items of a ServiceTitan list endpoint (`{ page, pageSize, hasMore, data }`),
 * page after page, through `client` (so its auth, rate limit and retries apply). One request
 * at a time; a page is fetched only when the previous one has been consumed, and breaking out of
 * the `for await` fetches nothing more. The iteration ends when the server says `hasMore: false`
 * or answers an empty page. Options are validated when `paginate` is called: a bad one throws
 * `ServiceTitanAuthError` `invalid_config` naming it.
 *
 * @example
 * for await (const customer of paginate<Customer>(client, '/crm/v2/tenant/{tenant}/customers', { pageSize: 500 })) {
 *   console.log(customer.id);
 * }
 */
export function paginate<T = unknown>(
  client: AxiosInstance,
  url: string,
  options: PaginateOptions = {},
): AsyncIterable<T> {
  const pages = paginatePages<T>(client, url, options);
  return {
    async *[Symbol.asyncIterator]() {
      for await (const page of pages) {
        for (const item of page.data) {
          throwIfAborted(options.signal);
          yield item;
        }
      }
    },
  };
}

/**
 * Like {@link paginate}, but yields whole pages (`{ page, hasMore, totalCount, data }`), e.g. to
 * write them in bulk or to read `totalCount` (pass `params: { includeTotal: true }`).
 *
 * @example
 * for await (const page of paginatePages<Customer>(client, '/crm/v2/tenant/{tenant}/customers', {
 *   pageSize: 500,
 *   params: { includeTotal: true },
 * })) {
 *   await db.insertMany(page.data);
 *   console.log(`page ${page.page}: ${page.data.length} of ${page.totalCount}`);
 * }
 */
export function paginatePages<T = unknown>(
  client: AxiosInstance,
  url: string,
  options: PaginateOptions = {},
): AsyncIterable<ListPage<T>> {
  checkCommon('paginate', client, url, options);
  const { pageSize, startPage = 1, params = {}, signal } = options;
  if (pageSize !== undefined && !isIntegerIn(pageSize, 1, MAX_PAGE_SIZE)) {
    throw invalidConfig(`paginate: pageSize must be an integer from 1 to ${MAX_PAGE_SIZE}, got ${describe(pageSize)}`);
  }
  if (!isIntegerIn(startPage, 1, Number.MAX_SAFE_INTEGER)) {
    throw invalidConfig(`paginate: startPage must be an integer of at least 1, got ${describe(startPage)}`);
  }
  const where = urlForMessages(url);
  return {
    async *[Symbol.asyncIterator]() {
      for (let page = startPage; ; page += 1) {
        const query = { ...params, ...(pageSize === undefined ? {} : { pageSize }), page };
        const body = await fetchJson(client, url, query, signal);
        const checked = checkListPage<T>(body, where, page);
        yield checked;
        if (!checked.hasMore || checked.data.length === 0) return;
      }
    },
  };
}

/**
 * Iterates over the batches of a ServiceTitan export feed (`/tenant/{t}/export/…`,
 * `{ hasMore, continueFrom, data }`), following `continueFrom` while `hasMore`. Each batch is
 * yielded with its `continueFrom`: save it once the batch is processed, and pass it as `from`
 * in a later run to resume exactly after it (the last batch's `continueFrom` is where the next
 * incremental run starts). Throws `ServiceTitanResponseError` on a malformed batch, or when the
 * server says `hasMore` without advancing `continueFrom`.
 *
 * @example
 * for await (const batch of exportPages<Customer>(client, '/crm/v2/tenant/{tenant}/export/customers', { from: saved })) {
 *   await store(batch.data);
 *   await saveCheckpoint(batch.continueFrom);
 * }
 */
export function exportPages<T = unknown>(
  client: AxiosInstance,
  url: string,
  options: ExportPagesOptions = {},
): AsyncIterable<ExportBatch<T>> {
  checkCommon('exportPages', client, url, options);
  const { params = {}, signal } = options;
  const start = fromOption(options.from);
  const where = urlForMessages(url);
  return {
    async *[Symbol.asyncIterator]() {
      let from = start;
      for (let index = 1; ; index += 1) {
        const query = { ...params, ...(from === undefined ? {} : { from }) };
        const body = await fetchJson(client, url, query, signal);
        const position = `batch ${index}${from === undefined ? '' : ' (from a continueFrom or date)'}`;
        const batch = checkExportBatch<T>(body, where, position);
        if (batch.hasMore && batch.continueFrom === from) {
          throw new ServiceTitanResponseError(
            where,
            `exportPages: GET ${where} ${position} said hasMore: true but did not advance continueFrom; stopping instead of looping forever`,
          );
        }
        yield batch;
        if (!batch.hasMore) return;
        from = batch.continueFrom;
      }
    },
  };
}

function checkCommon(name: string, client: unknown, url: unknown, options: PaginateOptions | ExportPagesOptions): void {
  if (typeof (client as { get?: unknown } | null)?.get !== 'function') {
    throw invalidConfig(`${name}: client must be an axios instance, got ${describe(client)}`);
  }
  if (typeof url !== 'string' || url.trim() === '') {
    throw invalidConfig(`${name}: url must be a non-empty string, got ${describe(url)}`);
  }
  if (options === null || typeof options !== 'object') {
    throw invalidConfig(`${name}: options must be an object, got ${describe(options)}`);
  }
  const { params, signal } = options;
  if (params !== undefined && (params === null || typeof params !== 'object' || Array.isArray(params))) {
    throw invalidConfig(`${name}: params must be an object of query parameters, got ${describe(params)}`);
  }
  if (signal !== undefined && typeof (signal as { aborted?: unknown } | null)?.aborted !== 'boolean') {
    throw invalidConfig(`${name}: signal must be an AbortSignal, got ${describe(signal)}`);
  }
}

function fromOption(from: unknown): string | undefined {
  if (from === undefined) return undefined;
  if (from instanceof Date) {
    if (Number.isNaN(from.getTime())) throw invalidConfig('exportPages: from is an invalid Date');
    return from.toISOString();
  }
  if (typeof from !== 'string' || from === '') {
    throw invalidConfig(`exportPages: from must be a continueFrom string or a Date, got ${describe(from)}`);
  }
  return from;
}

function isIntegerIn(value: unknown, min: number, max: number): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max;
}

/** The URL without its query string (which may hold an application key), for messages. */
function urlForMessages(url: string): string {
  return url.split(/[?#]/)[0] ?? '';
}

function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new CanceledError();
}

async function fetchJson(
  client: AxiosInstance,
  url: string,
  params: Record<string, unknown>,
  signal: AbortSignal | undefined,
): Promise<unknown> {
  throwIfAborted(signal);
  const config: AxiosRequestConfig = { params };
  if (signal !== undefined) config.signal = signal;
  const response = await client.get<unknown>(url, config);
  return response.data;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** What a body is, for messages: its type and top-level keys, never its values. */
function shapeOf(body: unknown): string {
  if (isRecord(body)) {
    const keys = Object.keys(body);
    const shown = keys.slice(0, 8).join(', ');
    return keys.length === 0 ? 'an empty object' : `an object with keys ${shown}${keys.length > 8 ? ', …' : ''}`;
  }
  if (typeof body === 'string') return body === '' ? 'an empty body' : 'a non-JSON body';
  return describe(body);
}

function checkListPage<T>(body: unknown, where: string, page: number): ListPage<T> {
  if (!isRecord(body) || !Array.isArray(body['data']) || typeof body['hasMore'] !== 'boolean') {
    throw new ServiceTitanResponseError(
      where,
      `paginate: GET ${where} page ${page} did not answer a list page ({ data: [...], hasMore: boolean }); got ${shapeOf(body)}`,
    );
  }
  const totalCount = typeof body['totalCount'] === 'number' ? body['totalCount'] : null;
  return { page, hasMore: body['hasMore'], totalCount, data: body['data'] as T[] };
}

function checkExportBatch<T>(body: unknown, where: string, position: string): ExportBatch<T> {
  if (
    !isRecord(body) ||
    !Array.isArray(body['data']) ||
    typeof body['hasMore'] !== 'boolean' ||
    typeof body['continueFrom'] !== 'string' ||
    (body['hasMore'] && body['continueFrom'] === '')
  ) {
    throw new ServiceTitanResponseError(
      where,
      `exportPages: GET ${where} ${position} did not answer an export batch ({ data: [...], hasMore: boolean, continueFrom: string }); got ${shapeOf(body)}`,
    );
  }
  return { data: body['data'] as T[], continueFrom: body['continueFrom'], hasMore: body['hasMore'] };
}
