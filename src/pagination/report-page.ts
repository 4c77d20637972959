import { ServiceTitanResponseError } from '../errors';
import { describe } from '../urls';
import { checkPageNumber, isRecord, shapeOf } from './checks';

/** One checked page of report data: the field names and rows that are arrays of that length. */
export interface ReportPage {
  page: number;
  hasMore: boolean;
  totalCount: number | null;
  names: string[];
  data: unknown[][];
}

/**
 * Checks a report-data body (`{ fields: [{ name }], data: [[…]], hasMore }`): every field has a
 * distinct name (rows are keyed by it) and every row has one value per field. Messages name the
 * page and row, never row values.
 */
export function checkReportPage(body: unknown, url: string, page: number): ReportPage {
  const what = `reportRows: POST ${url}`;
  const fields = isRecord(body) ? body['fields'] : undefined;
  if (
    !isRecord(body) ||
    !Array.isArray(fields) ||
    !Array.isArray(body['data']) ||
    typeof body['hasMore'] !== 'boolean'
  ) {
    throw new ServiceTitanResponseError(
      url,
      `${what} page ${page} did not answer report data ({ fields: [...], data: [[...]], hasMore: boolean }); got ${shapeOf(body)}`,
    );
  }
  checkPageNumber(body, page, what, url);
  const names = fields.map((field: unknown, index) => {
    const fieldName = isRecord(field) ? field['name'] : undefined;
    if (typeof fieldName !== 'string' || fieldName === '') {
      throw new ServiceTitanResponseError(url, `${what} page ${page}: fields[${index}] has no name`);
    }
    return fieldName;
  });
  if (new Set(names).size !== names.length) {
    throw new ServiceTitanResponseError(url, `${what} page ${page}: fields repeat a name, rows cannot be keyed by it`);
  }
  const data = body['data'] as unknown[];
  data.forEach((row, index) => {
    if (!Array.isArray(row) || row.length !== names.length) {
      const got = Array.isArray(row) ? `${row.length} values` : describe(row);
      throw new ServiceTitanResponseError(
        url,
        `${what} page ${page}: row ${index} has ${got}, the report has ${names.length} fields`,
      );
    }
  });
  const totalCount = typeof body['totalCount'] === 'number' ? body['totalCount'] : null;
  return { page, hasMore: body['hasMore'], totalCount, names, data: data as unknown[][] };
}

/** Throws unless a page's field names are the first page's, in the same order. */
export function checkSameFields(first: readonly string[], page: ReportPage, url: string): void {
  if (page.names.length === first.length && page.names.every((name, index) => name === first[index])) return;
  throw new ServiceTitanResponseError(
    url,
    `reportRows: POST ${url} page ${page.page} has fields (${page.names.join(', ')}) unlike the first page's (${first.join(', ')}); the report changed shape mid-run`,
  );
}
