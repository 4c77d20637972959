import type { AxiosInstance } from 'axios';
import { invalidConfig } from '../errors';
import { describe } from '../urls';
import { checkClient, checkOptionsObject, checkSignal, integerOption, isRecord, throwIfAborted } from './checks';
import { pagesInOrder } from './pages-in-order';
import { checkReportPage, checkSameFields, type ReportPage } from './report-page';

/** ServiceTitan's largest `pageSize` on report data. */
const MAX_REPORT_PAGE_SIZE = 25_000;
/**
 * The default page size: the largest. Each page is a run of the report, and runs are limited
 * (1 or 5 a minute, sources disagree): the fewer pages, the fewer minutes a report takes.
 */
const DEFAULT_REPORT_PAGE_SIZE = MAX_REPORT_PAGE_SIZE;
/** The most lenient reporting limit (5 runs a minute): more pages in flight could only queue. */
const MAX_REPORT_CONCURRENCY = 5;

/** One parameter of a report run, as ServiceTitan's report-data body takes it. */
export interface ReportParameter {
  /** The parameter's `name` as the report describes it (e.g. `From`, `To`, `BusinessUnitIds`). */
  name: string;
  /** Its value, sent as JSON (a Date is sent as an ISO 8601 string). */
  value: string | number | boolean | null | Date | readonly (string | number)[];
}

/** Options of {@link reportRows}. */
export interface ReportRowsOptions {
  /** The report's category id (e.g. `operations`), as in ServiceTitan's report list. */
  category: string;
  /** The report's id: a positive integer, or a string of digits. */
  reportId: number | string;
  /**
   * The report's parameters, sent as the body `{ parameters }` of every page. @default []
   * @example
   * reportRows(client, { category: 'operations', reportId: 123, parameters: [{ name: 'From', value: '2026-11-01' }] });
   */
  parameters?: readonly ReportParameter[];
  /**
   * Rows per page (one report-data call, a run of the report, each), an integer from 1 to
   * 25 000. Runs of the same report are limited per minute (the client's `reportLimit`, 1 by
   * default), so the page size bounds the rows per minute: keep it large.
   * @default 25000
   * @example
   * // Smaller pages: each run answers sooner, but a run is spent per 1000 rows.
   * reportRows(client, { category: 'operations', reportId: 123, pageSize: 1000 });
   */
  pageSize?: number;
  /**
   * Most pages in flight at once, an integer from 1 to 5 (the most lenient reporting limit: more
   * would only wait). Keep it at most the client's `reportLimit.perMinute` (1 by default): a
   * page beyond it waits in the client's queue for a later minute, and its `timeout` counts that
   * wait (the third page of `concurrency: 3` at 1 run a minute waits 2 minutes, past the default
   * 105 s). With k > 1 the first k pages are requested at once, even for a report that has
   * fewer; later pages stop at the last page the server's `totalCount` gives.
   * @default 1
   * @example
   * // A client created with reportLimit: { perMinute: 5 } (a tenant known to allow 5 runs a minute).
   * reportRows(client, { category: 'operations', reportId: 123, concurrency: 5 });
   */
  concurrency?: number;
  /** Aborts the requests in flight and ends the iteration with axios's `CanceledError`. */
  signal?: AbortSignal;
}

/** A report row: values keyed by the report's field `name`s. */
export type ReportRow = Record<string, unknown>;

/**
 * Runs a ServiceTitan report and iterates over its rows, each as an object keyed by the report's
 * field `name`s. Pages the report-data call
 * (`POST /reporting/v2/tenant/{tenant}/report-category/{category}/reports/{reportId}/data`,
 * body `{ parameters }`, query `page`, `pageSize`, `includeTotal`) through `client`: use a
 * client from `createServiceTitanClient` with a `tenantId`, whose reporting limit (`reportLimit`:
 * 1 run of a report per minute by default, each page being a run) makes later pages wait instead
 * of failing with 429. A 429 that still comes (another process ran the report) is retried after
 * its `Retry-After`: report data is a read, retried like a GET. A client `timeout` counts each
 * page's wait: leave it at its default (105 s) or above a minute; a page whose wait outlasts it
 * fails with the timeout error. Options are validated
 * when `reportRows` is called (`invalid_config` naming the option or parameter). Throws
 * `ServiceTitanResponseError` when a page is malformed, its `fields` differ from the first
 * page's, or a row's length differs from the fields'.
 *
 * @example
 * const rows = reportRows(client, {
 *   category: 'operations',
 *   reportId: 175,
 *   parameters: [{ name: 'From', value: '2024-01-01' }, { name: 'To', value: '2024-01-31' }],
 * });
 * for await (const row of rows) console.log(row['JobNumber'], row['Revenue']);
 */
export function reportRows<Row extends ReportRow = ReportRow>(
  client: AxiosInstance,
  options: ReportRowsOptions,
): AsyncIterable<Row> {
  const name = 'reportRows';
  checkClient(name, client);
  checkOptionsObject(name, options);
  const { category, reportId, signal } = options;
  if (typeof category !== 'string' || !/^[^/?#\s]+$/.test(category)) {
    throw invalidConfig(
      `${name}: category must be a report category id such as 'operations', got ${describe(category)}`,
    );
  }
  const id = typeof reportId === 'number' && Number.isSafeInteger(reportId) ? String(reportId) : reportId;
  if (typeof id !== 'string' || !/^[1-9]\d{0,18}$/.test(id)) {
    throw invalidConfig(
      `${name}: reportId must be a positive integer or a string of digits, got ${describe(reportId)}`,
    );
  }
  const body = { parameters: checkParameters(options.parameters) };
  const pageSize = integerOption(name, 'pageSize', options.pageSize, 1, MAX_REPORT_PAGE_SIZE, DEFAULT_REPORT_PAGE_SIZE);
  const concurrency = integerOption(name, 'concurrency', options.concurrency, 1, MAX_REPORT_CONCURRENCY, 1);
  checkSignal(name, signal);
  const url = `/reporting/v2/tenant/{tenant}/report-category/${encodeURIComponent(category)}/reports/${id}/data`;
  const fetchPage = async (page: number, pageSignal: AbortSignal): Promise<ReportPage> => {
    const params = { page, pageSize, includeTotal: true };
    const response = await client.post<unknown>(url, body, { params, signal: pageSignal });
    return checkReportPage(response.data, url, page);
  };
  return {
    async *[Symbol.asyncIterator]() {
      const pages = pagesInOrder({
        fetchPage,
        startPage: 1,
        concurrency,
        signal,
        lastPageOf: (page) =>
          page.totalCount === null ? undefined : Math.max(1, Math.ceil(page.totalCount / pageSize)),
      });
      let firstFields: string[] | undefined;
      for await (const page of pages) {
        firstFields ??= page.names;
        checkSameFields(firstFields, page, url);
        for (const row of page.data) {
          throwIfAborted(signal);
          yield Object.fromEntries(page.names.map((field, index) => [field, row[index]])) as Row;
        }
      }
    },
  };
}

function checkParameters(parameters: unknown): ReportParameter[] {
  if (parameters === undefined) return [];
  if (!Array.isArray(parameters)) {
    throw invalidConfig(`reportRows: parameters must be an array of { name, value }, got ${describe(parameters)}`);
  }
  return parameters.map((parameter: unknown, index) => {
    const at = `reportRows: parameters[${index}]`;
    if (!isRecord(parameter))
      throw invalidConfig(`${at} must be an object { name, value }, got ${describe(parameter)}`);
    const { name, value } = parameter;
    if (typeof name !== 'string' || name.trim() === '') {
      throw invalidConfig(`${at}.name must be a non-empty string, got ${describe(name)}`);
    }
    if (!isParameterValue(value)) {
      throw invalidConfig(
        `${at}.value (${name}) must be a string, number, boolean, null, Date or an array of strings or numbers, got ${describe(value)}`,
      );
    }
    return { name, value: value instanceof Date ? value.toISOString() : value };
  });
}

function isParameterValue(value: unknown): value is ReportParameter['value'] {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return true;
  if (typeof value === 'number') return Number.isFinite(value);
  if (value instanceof Date) return !Number.isNaN(value.getTime());
  return (
    Array.isArray(value) && value.every((v) => typeof v === 'string' || (typeof v === 'number' && Number.isFinite(v)))
  );
}
