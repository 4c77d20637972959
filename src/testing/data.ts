/** A generated customer, in the shape of ServiceTitan's CRM customer (a subset of fields). */
export interface SandboxCustomer {
  id: number;
  name: string;
  active: boolean;
  createdOn: string;
  modifiedOn: string;
}

/** A generated call, in the shape of ServiceTitan's telecom call (a subset of fields). */
export interface SandboxCall {
  id: number;
  direction: 'Inbound' | 'Outbound';
  duration: string;
  from: string;
  to: string;
  createdOn: string;
}

const FIRST = ['Ada', 'Grace', 'Alan', 'Edsger', 'Barbara', 'Donald', 'Frances', 'Ken', 'Radia'];
const LAST = ['Lovelace', 'Hopper', 'Turing', 'Dijkstra', 'Liskov', 'Knuth', 'Allen', 'Thompson'];
const EPOCH = Date.UTC(2020, 0, 1);
const HOUR = 3_600_000;

/** `count` customers with ids 1..count; the same count always gives the same records. */
export function generateCustomers(count: number): SandboxCustomer[] {
  return Array.from({ length: count }, (_, index) => {
    const id = index + 1;
    const created = EPOCH + id * 24 * HOUR;
    return {
      id,
      name: `${FIRST[id % FIRST.length] ?? ''} ${LAST[id % LAST.length] ?? ''} #${id}`,
      active: id % 7 !== 0,
      createdOn: new Date(created).toISOString(),
      modifiedOn: new Date(created + (id % 48) * HOUR).toISOString(),
    };
  });
}

/** `count` calls with ids 1..count, deterministic. */
export function generateCalls(count: number): SandboxCall[] {
  return Array.from({ length: count }, (_, index) => {
    const id = index + 1;
    return {
      id,
      direction: id % 3 === 0 ? 'Outbound' : 'Inbound',
      duration: `00:0${id % 10}:${String((id * 7) % 60).padStart(2, '0')}`,
      from: `+1555000${String(id).padStart(4, '0')}`,
      to: '+15550009999',
      createdOn: new Date(EPOCH + id * HOUR).toISOString(),
    };
  });
}

/** ServiceTitan's list envelope. */
export interface Page<T> {
  page: number;
  pageSize: number;
  hasMore: boolean;
  totalCount: number | null;
  data: T[];
}

/** Parsed `page` / `pageSize` / `includeTotal`, or the validation errors by field. */
export type PageQuery =
  { ok: true; page: number; pageSize: number; includeTotal: boolean } | { ok: false; errors: Record<string, string[]> };

export const MAX_PAGE_SIZE = 5000;
/** ServiceTitan's largest `pageSize` on report data (reporting spec: 1–25 000). */
export const MAX_REPORT_PAGE_SIZE = 25_000;
export const DEFAULT_PAGE_SIZE = 50;

function positiveInteger(value: string | null, fallback: number): number | undefined {
  if (value === null || value === '') return fallback;
  if (!/^\d+$/.test(value)) return undefined;
  const n = Number(value);
  return n >= 1 ? n : undefined;
}

/** Reads the list parameters as ServiceTitan documents them (`maxPageSize`: 25 000 on report data). */
export function parsePageQuery(params: URLSearchParams, maxPageSize = MAX_PAGE_SIZE): PageQuery {
  const page = positiveInteger(params.get('page'), 1);
  const pageSize = positiveInteger(params.get('pageSize'), DEFAULT_PAGE_SIZE);
  const validSize = pageSize !== undefined && pageSize <= maxPageSize;
  if (page === undefined || !validSize) {
    const errors: Record<string, string[]> = {};
    if (page === undefined) errors['page'] = ['The field page must be an integer of at least 1.'];
    if (!validSize) {
      errors['pageSize'] = [`The field pageSize must be between 1 and ${maxPageSize}.`];
    }
    return { ok: false, errors };
  }
  const includeTotal = params.get('includeTotal')?.toLowerCase() === 'true';
  return { ok: true, page, pageSize, includeTotal };
}

/** One page of `items`. */
export function pageOf<T>(items: readonly T[], page: number, pageSize: number, includeTotal: boolean): Page<T> {
  const start = (page - 1) * pageSize;
  return {
    page,
    pageSize,
    hasMore: start + pageSize < items.length,
    totalCount: includeTotal ? items.length : null,
    data: items.slice(start, start + pageSize),
  };
}

/** ServiceTitan's export envelope. */
export interface ExportBatch<T> {
  hasMore: boolean;
  continueFrom: string;
  data: T[];
}

const CURSOR_PREFIX = 'sandbox-export:';

/** The opaque `continueFrom` for an offset. */
export function encodeCursor(offset: number): string {
  return Buffer.from(`${CURSOR_PREFIX}${offset}`).toString('base64url');
}

/**
 * The offset `from` designates: a previous `continueFrom`, or the start for an empty value or
 * a date. Undefined when `from` is neither.
 */
export function decodeFrom(from: string | null): number | undefined {
  if (from === null || from === '') return 0;
  const decoded = Buffer.from(from, 'base64url').toString('utf8');
  const offset = decoded.startsWith(CURSOR_PREFIX) ? decoded.slice(CURSOR_PREFIX.length) : '';
  if (/^\d+$/.test(offset)) return Number(offset);
  return Number.isNaN(Date.parse(from)) ? undefined : 0;
}

/** The batch of `items` starting at `offset`. */
export function exportBatch<T>(items: readonly T[], offset: number, batchSize: number): ExportBatch<T> {
  const data = items.slice(offset, offset + batchSize);
  const next = Math.max(offset, Math.min(offset + batchSize, items.length));
  return { hasMore: next < items.length, continueFrom: encodeCursor(next), data };
}

/** A report category, in the shape of ServiceTitan's reporting API. */
export interface SandboxReportCategory {
  id: string;
  name: string;
}

/** The report categories the sandbox lists (any category id is accepted for report data). */
export const REPORT_CATEGORIES: readonly SandboxReportCategory[] = [
  { id: 'accounting', name: 'Accounting' },
  { id: 'marketing', name: 'Marketing' },
  { id: 'operations', name: 'Operations' },
  { id: 'technician', name: 'Technician' },
];

/** A column of a report's data: rows are arrays of values in the order of the fields. */
export interface ReportField {
  name: string;
  label: string;
}

export const REPORT_FIELDS: readonly ReportField[] = [
  { name: 'JobNumber', label: 'Job #' },
  { name: 'BusinessUnit', label: 'Business Unit' },
  { name: 'CompletedOn', label: 'Completed On' },
  { name: 'Revenue', label: 'Total Revenue' },
];

const BUSINESS_UNITS = ['HVAC Service', 'Plumbing Service', 'Electrical Install'];

/** `count` rows of a report, deterministic for a given report id. */
export function generateReportRows(reportId: number, count: number): unknown[][] {
  return Array.from({ length: count }, (_, index) => {
    const n = index + 1;
    return [
      `${reportId}-${String(n).padStart(5, '0')}`,
      BUSINESS_UNITS[(n + reportId) % BUSINESS_UNITS.length] ?? '',
      new Date(EPOCH + n * 6 * HOUR).toISOString(),
      Math.round(((n * 7919 + reportId * 104_729) % 250_000) + 5_000) / 100,
    ];
  });
}
