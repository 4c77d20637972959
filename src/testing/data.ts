import type { FieldErrors } from './body-schema';
import { parseQuery, type QuerySpec, type QueryValue } from './query';

/** The day the generated data starts. */
export const EPOCH = Date.UTC(2020, 0, 1);
export const HOUR = 3_600_000;

/** `Telecom.V2.NamedModel`. */
interface NamedModel {
  id: number;
  name: string;
}

/**
 * A call in the shape of ServiceTitan's `Telecom.V3.CallResponse` (every property the published
 * schema has, and no other): the job the call is about, and the call itself in `leadCall`.
 */
export interface SandboxCall {
  id: number;
  jobNumber: string;
  projectId: number;
  businessUnit: NamedModel;
  type: NamedModel & { modifiedOn: string };
  leadCall: {
    createdOn: string;
    active: boolean;
    id: number;
    receivedOn: string;
    /** ISO 8601, as the spec's `format: duration` says. */
    duration: string;
    from: string;
    to: string;
    direction: 'Inbound' | 'Outbound';
    callType: 'Abandoned' | 'Unbooked' | 'Excused' | 'Booked' | 'NotLead' | null;
    reason: NamedModel & { lead: boolean; active: boolean };
    recordingUrl: string;
    voiceMailUrl: string;
    createdBy: NamedModel;
    customer: NamedModel;
    campaign: NamedModel;
    modifiedOn: string;
    agent: NamedModel & { externalId: number | null };
    sid: string | null;
    tags: { id: number; typeName: string }[] | null;
  };
}

const BUSINESS_UNITS = ['HVAC Service', 'Plumbing Service', 'Electrical Install'];
const JOB_TYPES = ['Maintenance', 'Repair', 'Install'];
const CALL_REASONS = ['Schedule service', 'Billing question', 'Estimate request'];
const CALL_TYPES = ['Booked', 'Unbooked', 'Excused', 'NotLead', 'Abandoned'] as const;
const AGENTS = ['Dana Cruz', 'Sam Patel', 'Lee Morgan'];
const CAMPAIGNS = ['Google Ads', 'Yard Signs', 'Referral'];
const TYPE_MODIFIED_ON = new Date(EPOCH).toISOString();

function pick<T>(list: readonly T[], n: number): T {
  return list[n % list.length] as T;
}

/** `count` calls with ids 1..count, deterministic. */
export function generateCalls(count: number): SandboxCall[] {
  return Array.from({ length: count }, (_, index) => {
    const id = index + 1;
    const received = new Date(EPOCH + id * HOUR).toISOString();
    const minutes = id % 10;
    const seconds = (id * 7) % 60;
    const customerId = ((id * 13) % 120) + 1;
    const reason = id % CALL_REASONS.length;
    return {
      id,
      jobNumber: String(40_000 + id),
      projectId: 0,
      businessUnit: { id: 100 + (id % BUSINESS_UNITS.length), name: pick(BUSINESS_UNITS, id) },
      type: { id: 200 + (id % JOB_TYPES.length), name: pick(JOB_TYPES, id), modifiedOn: TYPE_MODIFIED_ON },
      leadCall: {
        createdOn: received,
        active: true,
        id,
        receivedOn: received,
        duration: `PT${minutes}M${seconds}S`,
        from: `+1555000${String(id).padStart(4, '0')}`,
        to: '+15550009999',
        direction: id % 3 === 0 ? 'Outbound' : 'Inbound',
        callType: pick(CALL_TYPES, id),
        reason: { id: 300 + reason, name: pick(CALL_REASONS, id), lead: reason !== 1, active: true },
        recordingUrl: `https://recordings.example.invalid/calls/${id}.mp3`,
        voiceMailUrl: '',
        createdBy: { id: 1001, name: 'Office' },
        customer: { id: customerId, name: `Customer #${customerId}` },
        campaign: { id: 400 + (id % CAMPAIGNS.length), name: pick(CAMPAIGNS, id) },
        modifiedOn: received,
        agent: { id: 500 + (id % AGENTS.length), name: pick(AGENTS, id), externalId: null },
        sid: `CA${String(id).padStart(32, '0')}`,
        tags: [],
      },
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

/** Parsed `page` / `pageSize` / `includeTotal` and the route's other parameters, or the errors by field. */
export type PageQuery =
  | { ok: true; page: number; pageSize: number; includeTotal: boolean; values: Record<string, QueryValue> }
  | { ok: false; errors: FieldErrors };

/** ServiceTitan's largest `pageSize` on lists (DESIGN's facts; the specs give no bound). */
export const MAX_PAGE_SIZE = 5000;
/** ServiceTitan's largest `pageSize` on report data (reporting spec: 1–25 000). */
export const MAX_REPORT_PAGE_SIZE = 25_000;
/** crm-v2 and telecom specs: "How many records to return (50 by default)". */
export const DEFAULT_PAGE_SIZE = 50;
/** reporting-v2 spec, report data: "How many records to return (1000 by default)". */
export const DEFAULT_REPORT_PAGE_SIZE = 1000;

/** The paging parameters every list of the specs takes. */
export const PAGE_PARAMETERS: QuerySpec = { page: 'int32', pageSize: 'int32', includeTotal: 'boolean' };

/**
 * Reads the paging parameters (and the others `spec` types) as ServiceTitan documents them:
 * each typed (`includeTotal=maybe` is a 400), `page` from 1, `pageSize` from 1 to `maxPageSize`.
 */
export function parsePageQuery(
  params: URLSearchParams,
  spec: QuerySpec = PAGE_PARAMETERS,
  { maxPageSize = MAX_PAGE_SIZE, defaultPageSize = DEFAULT_PAGE_SIZE } = {},
): PageQuery {
  const parsed = parseQuery(params, { ...spec, ...PAGE_PARAMETERS });
  if (!parsed.ok) return parsed;
  const { page = 1, pageSize = defaultPageSize, includeTotal = false } = parsed.values;
  const errors: FieldErrors = {};
  if ((page as number) < 1) errors['page'] = ['The field page must be an integer of at least 1.'];
  if ((pageSize as number) < 1 || (pageSize as number) > maxPageSize) {
    errors['pageSize'] = [`The field pageSize must be between 1 and ${maxPageSize}.`];
  }
  if (Object.keys(errors).length > 0) return { ok: false, errors };
  return {
    ok: true,
    page: page as number,
    pageSize: pageSize as number,
    includeTotal: includeTotal as boolean,
    values: parsed.values,
  };
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
