import type { AxiosInstance } from 'axios';
import { ServiceTitanResponseError, invalidConfig } from '../errors';
import { describe } from '../urls';
import {
  checkCommon,
  checkPageAdvanced,
  checkPageNumber,
  integerOption,
  isIntegerIn,
  isRecord,
  shapeOf,
  throwIfAborted,
  urlForMessages,
} from './checks';
import { pagesInOrder } from './pages-in-order';

/** ServiceTitan's largest `pageSize` on lists. */
const MAX_PAGE_SIZE = 5000;
/** Most pages in flight at once: beyond ServiceTitan's 60 requests per second it only queues. */
const MAX_CONCURRENCY = 64;

/** Options of {@link paginate} and {@link paginatePages}. */
export interface PaginateOptions {
  /** Extra query parameters sent with every page (e.g. `{ active: true, includeTotal: true }`). `page` is set by the iterator. @default {} */
  params?: Record<string, unknown>;
  /** Items per page, an integer from 1 to 5000. @default not sent: the server's default (50 on ServiceTitan) */
  pageSize?: number;
  /** The first page to fetch (pages count from 1). @default 1 */
  startPage?: number;
  /**
   * Most pages in flight at once, an integer from 1 to 64. Pages are still yielded strictly in
   * order. With 1 the next page is requested only once the previous one is consumed; with k > 1,
   * k pages are requested ahead, so up to k − 1 pages past the end may be requested (and
   * discarded) unless `params: { includeTotal: true }` lets the iterator stop at the last page.
   * Each request goes through the client, so its rate limit still applies.
   * @default 1
   * @example
   * for await (const job of paginate(client, '/jpm/v2/tenant/{tenant}/jobs', { pageSize: 500, concurrency: 4 })) {}
   */
  concurrency?: number;
  /** Aborts the requests in flight and ends the iteration with axios's `CanceledError`. */
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

/**
 * Iterates over the items of a ServiceTitan list endpoint (`{ page, pageSize, hasMore, data }`),
 * page after page, through `client` (so its auth, rate limit and retries apply). By default one
 * request at a time; a page is fetched only when the previous one has been consumed, and breaking
 * out of the `for await` fetches nothing more. With `concurrency: k`, k pages are in flight and
 * items still come in order; `break` or an abort cancels the pages in flight. The iteration ends
 * when the server says `hasMore: false` or answers an empty page; it throws
 * `ServiceTitanResponseError` when a page is malformed, names another page than the one asked
 * for, or holds exactly the items of the page before it (a server that ignores `page` would
 * otherwise be followed forever; the error names the URL). Options are
 * validated when `paginate` is called: a bad one throws `ServiceTitanAuthError` `invalid_config`
 * naming it.
 *
 * @example
 * for await (const customer of paginate<Customer>(client, '/crm/v2/tenant/{tenant}/customers', {
 *   pageSize: 500,
 *   concurrency: 4,
 * })) {
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
 *   pageSize: 5000,
 *   concurrency: 4,
 *   params: { includeTotal: true },
 * })) {
 *   await bulkInsert(page.data);
 *   console.log(`page ${page.page} of ${Math.ceil((page.totalCount ?? 0) / 5000)}`);
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
  const concurrency = integerOption('paginate', 'concurrency', options.concurrency, 1, MAX_CONCURRENCY, 1);
  const where = urlForMessages(url);
  const fetchPage = async (page: number, pageSignal: AbortSignal): Promise<ListPage<T>> => {
    const query = { ...params, ...(pageSize === undefined ? {} : { pageSize }), page };
    const response = await client.get<unknown>(url, { params: query, signal: pageSignal });
    return checkListPage<T>(response.data, where, page);
  };
  return {
    [Symbol.asyncIterator]: () =>
      pagesInOrder({
        fetchPage,
        startPage,
        concurrency,
        signal,
        lastPageOf: (page) => lastPageOf(page, pageSize),
        checkAdvanced: (previous, page) => checkPageAdvanced(previous, page, `paginate: GET ${where}`, where),
      }),
  };
}

/**
 * The last page number `totalCount` implies, or undefined. Without a `pageSize` option the
 * server's size is read from a full page (one that says `hasMore`).
 */
function lastPageOf(page: ListPage<unknown>, pageSize: number | undefined): number | undefined {
  const size = pageSize ?? (page.hasMore ? page.data.length : undefined);
  if (page.totalCount === null || size === undefined || size === 0) return undefined;
  return Math.max(1, Math.ceil(page.totalCount / size));
}

function checkListPage<T>(body: unknown, where: string, page: number): ListPage<T> {
  if (!isRecord(body) || !Array.isArray(body['data']) || typeof body['hasMore'] !== 'boolean') {
    throw new ServiceTitanResponseError(
      where,
      `paginate: GET ${where} page ${page} did not answer a list page ({ data: [...], hasMore: boolean }); got ${shapeOf(body)}`,
    );
  }
  checkPageNumber(body, page, `paginate: GET ${where}`, where);
  const totalCount = typeof body['totalCount'] === 'number' ? body['totalCount'] : null;
  return { page, hasMore: body['hasMore'], totalCount, data: body['data'] as T[] };
}
