import { authenticate, type ApiAuthSettings } from './api-auth';
import { validateBody, type BodySchema, type FieldErrors } from './body-schema';
import {
  CREATE_CUSTOMER,
  createdCustomerResponse,
  customerAfterUpdate,
  customerFromCreate,
  UPDATE_CUSTOMER,
  type CreateCustomerInput,
  type UpdateCustomerInput,
} from './customer-requests';
import { CustomerStore, type SandboxCustomer } from './customers';
import {
  decodeFrom,
  DEFAULT_REPORT_PAGE_SIZE,
  generateReportRows,
  MAX_REPORT_PAGE_SIZE,
  pageOf,
  parsePageQuery,
  REPORT_CATEGORIES,
  REPORT_FIELDS,
  type SandboxCall,
} from './data';
import { mediaType, queryObject, sendJson, type RequestContext } from './http';
import type { AccessTokenClaims } from './jwt';
import { filterList, LIST_FILTERS, type FilterableRecord } from './list-filters';
import { problem } from './problem';
import { parseQuery, type QuerySpec } from './query';
import { retryAfterValue, type SlidingWindowLimiter } from './rate-limit';
import type { RetryAfterStyle } from './types';

/** What the emulated API serves. */
export interface ApiSettings extends ApiAuthSettings {
  /** Every tenant's customers start as these; each tenant then has its own copy to write to. */
  customers: readonly SandboxCustomer[];
  calls: readonly SandboxCall[];
  exportBatchSize: number;
  /** Rows of every report's data. */
  reportRowCount: number;
  /** Requests per second per (app key, tenant), or undefined for no limit. */
  rateLimiter: SlidingWindowLimiter | undefined;
  /** Calls per minute per (tenant, report id) of report data, or undefined for no limit. */
  reportLimiter: SlidingWindowLimiter | undefined;
  retryAfterStyle: RetryAfterStyle;
  /** Called for every 429 the sandbox's own limits answer. */
  onRateLimited: () => void;
}

/** `/{module}/v{n}/tenant/{tenant}/{rest…}`, the shape of ServiceTitan API paths. */
interface ApiPath {
  module: string;
  version: number;
  tenant: string;
  rest: string;
}

function safeDecode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

function parseApiPath(pathname: string): ApiPath | undefined {
  const match = /^\/([^/]+)\/v(\d+)\/tenant\/([^/]+)(?:\/(.*))?$/.exec(pathname);
  if (!match?.[1] || !match[2] || !match[3]) return undefined;
  return {
    module: match[1],
    version: Number(match[2]),
    tenant: safeDecode(match[3]),
    rest: (match[4] ?? '').replace(/\/+$/, ''),
  };
}

/** What the routes keep between requests. */
interface ApiState {
  /** Customers by tenant, created from the seed on a tenant's first customer request. */
  customers: Map<string, CustomerStore>;
  /** Ids of the locations and contacts a created customer gets. */
  nextSubId: number;
}

interface RouteContext {
  settings: ApiSettings;
  state: ApiState;
  path: ApiPath;
  claims: AccessTokenClaims;
}

type Route = (ctx: RequestContext, route: RouteContext) => void;

function notFound(ctx: RequestContext): void {
  sendJson(ctx, 404, problem(404, `No resource at ${ctx.url.pathname}.`));
}

function validationProblem(ctx: RequestContext, errors: FieldErrors): void {
  sendJson(ctx, 400, problem(400, 'One or more validation errors occurred.', errors));
}

/** Dispatches on the method; anything else is a 405 naming the methods the resource has. */
function byMethod(routes: { GET?: Route; POST?: Route; PATCH?: Route }): Route {
  const allowed = [...Object.keys(routes), ...(routes.GET ? ['HEAD'] : [])];
  return (ctx, route) => {
    const method = ctx.req.method === 'HEAD' ? 'GET' : ctx.req.method;
    const handler = routes[method as keyof typeof routes];
    if (handler) handler(ctx, route);
    else sendJson(ctx, 405, problem(405, 'Method Not Allowed'), { allow: allowed.join(', ') });
  };
}

function customersOf({ settings, state, claims }: RouteContext): CustomerStore {
  let store = state.customers.get(claims.tenant);
  if (!store) {
    store = new CustomerStore(settings.customers);
    state.customers.set(claims.tenant, store);
  }
  return store;
}

/** The request body as JSON: undefined when empty, the text itself when it is not JSON. */
function jsonBody(ctx: RequestContext): unknown {
  if (ctx.body.length === 0) return undefined;
  const text = ctx.body.toString('utf8');
  if (!mediaType(ctx.req.headers['content-type']).endsWith('json')) return text;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

/** The body if it conforms to `schema`; otherwise answers 400 with the errors by field. */
function validBody<T>(ctx: RequestContext, schema: BodySchema): T | undefined {
  const body = jsonBody(ctx);
  const errors = validateBody(schema, body);
  if (Object.keys(errors).length === 0) return body as T;
  validationProblem(ctx, errors);
  return undefined;
}

/** A paged list of `items(route)`, filtered by `LIST_FILTERS` through `fields`. */
function listOf<T>(items: (route: RouteContext) => readonly T[], fields?: (item: T) => FilterableRecord): Route {
  return (ctx, route) => {
    const query = parsePageQuery(ctx.url.searchParams, fields ? LIST_FILTERS : undefined);
    if (!query.ok) {
      validationProblem(ctx, query.errors);
      return;
    }
    const all = items(route);
    const selected = fields ? filterList(all, query.values, fields) : all;
    sendJson(ctx, 200, pageOf(selected, query.page, query.pageSize, query.includeTotal));
  };
}

const customerList: Route = listOf(
  (route) => customersOf(route).list(),
  (c: SandboxCustomer) => c,
);

const createCustomer: Route = (ctx, route) => {
  const input = validBody<CreateCustomerInput>(ctx, CREATE_CUSTOMER);
  if (input === undefined) return;
  // Date.now(), as the report limit reads it: a test that fakes Date gets its times.
  const now = new Date(Date.now()).toISOString();
  const customer = customersOf(route).create((id) => customerFromCreate(input, id, now));
  const nextId = (): number => (route.state.nextSubId += 1);
  sendJson(ctx, 200, createdCustomerResponse(customer, input, nextId));
};

function customerById(ctx: RequestContext, route: RouteContext): SandboxCustomer | undefined {
  const id = route.path.rest.slice('customers/'.length);
  const found = /^\d+$/.test(id) ? customersOf(route).get(Number(id)) : undefined;
  if (!found) sendJson(ctx, 404, problem(404, `Customer with ID ${id} was not found.`));
  return found;
}

const getCustomer: Route = (ctx, route) => {
  const found = customerById(ctx, route);
  if (found) sendJson(ctx, 200, found);
};

const updateCustomer: Route = (ctx, route) => {
  const found = customerById(ctx, route);
  if (!found) return;
  const input = validBody<UpdateCustomerInput>(ctx, UPDATE_CUSTOMER);
  if (input === undefined) return;
  const updated = customersOf(route).update(customerAfterUpdate(found, input, new Date(Date.now()).toISOString()));
  sendJson(ctx, 200, updated);
};

const EXPORT_PARAMETERS: QuerySpec = { from: 'string', includeRecentChanges: 'boolean' };

const customerExport: Route = (ctx, route) => {
  const query = parseQuery(ctx.url.searchParams, EXPORT_PARAMETERS);
  if (!query.ok) {
    validationProblem(ctx, query.errors);
    return;
  }
  const offset = decodeFrom(ctx.url.searchParams.get('from'));
  if (offset === undefined) {
    validationProblem(ctx, { from: ['The value must be a previous continueFrom token or a date.'] });
    return;
  }
  sendJson(ctx, 200, customersOf(route).exportFrom(offset, route.settings.exportBatchSize));
};

function tooManyRequests(ctx: RequestContext, settings: ApiSettings, retryAfterMs: number, title: string): void {
  settings.onRateLimited();
  const retryAfter = retryAfterValue(retryAfterMs, settings.retryAfterStyle);
  sendJson(ctx, 429, problem(429, title), retryAfter === undefined ? {} : { 'retry-after': retryAfter });
}

const reportCategories: Route = listOf(() => REPORT_CATEGORIES);

/** `Reporting.V2.ReportDataRequest`: `value` is optional and may be anything, `null` included. */
const REPORT_DATA_REQUEST: BodySchema = {
  type: 'object',
  required: ['parameters'],
  properties: {
    parameters: {
      type: 'array',
      items: {
        type: 'object',
        required: ['name'],
        properties: { name: { type: 'string', minLength: 1 }, value: { type: 'any' } },
      },
    },
  },
};

const reportData: Route = (ctx, { settings, path, claims }) => {
  const reportId = /^report-category\/[^/]+\/reports\/(\d+)\/data$/.exec(path.rest)?.[1] ?? '';
  const query = parsePageQuery(ctx.url.searchParams, undefined, {
    maxPageSize: MAX_REPORT_PAGE_SIZE,
    defaultPageSize: DEFAULT_REPORT_PAGE_SIZE,
  });
  if (!query.ok) {
    validationProblem(ctx, query.errors);
    return;
  }
  if (validBody(ctx, REPORT_DATA_REQUEST) === undefined) return;
  const limited = settings.reportLimiter?.take(`${claims.tenant}\n${reportId}`);
  if (limited && !limited.ok) {
    const perMinute = settings.reportLimiter?.limit ?? 0;
    tooManyRequests(
      ctx,
      settings,
      limited.retryAfterMs,
      `Too Many Requests: report ${reportId} may be run ${perMinute} times per minute per tenant.`,
    );
    return;
  }
  const rows = generateReportRows(Number(reportId), settings.reportRowCount);
  sendJson(ctx, 200, {
    fields: REPORT_FIELDS,
    ...pageOf(rows, query.page, query.pageSize, query.includeTotal),
  });
};

function parseBody(ctx: RequestContext): unknown {
  if (ctx.body.length === 0) return null;
  const text = ctx.body.toString('utf8');
  if (!mediaType(ctx.req.headers['content-type']).endsWith('json')) return text;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

const echo: Route = (ctx, { claims }) => {
  sendJson(ctx, 200, {
    method: ctx.req.method,
    path: ctx.url.pathname,
    query: queryObject(ctx.url),
    tokenId: claims.jti,
    appKey: ctx.record.appKey !== undefined,
    headers: ctx.record.headers,
    body: parseBody(ctx),
  });
};

const customers = byMethod({ GET: customerList, POST: createCustomer });
const customer = byMethod({ GET: getCustomer, PATCH: updateCustomer });
const exportCustomers = byMethod({ GET: customerExport });
const calls = byMethod({
  GET: listOf(
    ({ settings }) => settings.calls,
    (call: SandboxCall) => ({ ...call.leadCall, id: call.id }),
  ),
});
const categories = byMethod({ GET: reportCategories });
const report = byMethod({ POST: reportData });

/** Picks the route for a parsed path, or undefined for a 404. */
function routeFor(path: ApiPath): Route | undefined {
  const key = `${path.module}/v${path.version}`;
  if (key === 'crm/v2') {
    if (path.rest === 'customers') return customers;
    if (/^customers\/[^/]+$/.test(path.rest)) return customer;
    if (path.rest === 'export/customers') return exportCustomers;
  }
  if (key === 'telecom/v3' && path.rest === 'calls') return calls;
  if (key === 'reporting/v2') {
    if (path.rest === 'report-categories') return categories;
    if (/^report-category\/[^/]+\/reports\/\d+\/data$/.test(path.rest)) return report;
  }
  if (key === 'sandbox/v1' && (path.rest === 'echo' || path.rest.startsWith('echo/'))) return echo;
  return undefined;
}

/** The API's handler: authentication, app key and tenant checks, then the routes. */
export function createApiHandler(settings: ApiSettings): (ctx: RequestContext) => void {
  const state: ApiState = { customers: new Map(), nextSubId: 0 };
  return (ctx) => {
    const path = parseApiPath(ctx.url.pathname);
    const claims = authenticate(ctx, settings, path?.tenant);
    if (!claims) return;
    // ServiceTitan: 60 calls per second per application per tenant.
    const limited = settings.rateLimiter?.take(`${ctx.record.appKey ?? ''}\n${claims.tenant}`);
    if (limited && !limited.ok) {
      tooManyRequests(
        ctx,
        settings,
        limited.retryAfterMs,
        `Too Many Requests: more than ${settings.rateLimiter?.limit ?? 0} requests per second for this application and tenant.`,
      );
      return;
    }
    const route = path && routeFor(path);
    if (!path || !route) notFound(ctx);
    else route(ctx, { settings, state, path, claims });
  };
}
