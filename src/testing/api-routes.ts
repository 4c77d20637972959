import { authenticate, type ApiAuthSettings } from './api-auth';
import {
  decodeFrom,
  exportBatch,
  generateReportRows,
  MAX_REPORT_PAGE_SIZE,
  pageOf,
  parsePageQuery,
  REPORT_CATEGORIES,
  REPORT_FIELDS,
  type SandboxCall,
  type SandboxCustomer,
} from './data';
import { mediaType, queryObject, send, sendJson, type RequestContext } from './http';
import type { AccessTokenClaims } from './jwt';
import { problem } from './problem';
import { retryAfterValue, type SlidingWindowLimiter } from './rate-limit';
import type { RetryAfterStyle } from './types';

/** What the emulated API serves. */
export interface ApiSettings extends ApiAuthSettings {
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

type Route = (ctx: RequestContext, settings: ApiSettings, path: ApiPath, claims: AccessTokenClaims) => void;

function notFound(ctx: RequestContext): void {
  sendJson(ctx, 404, problem(404, `No resource at ${ctx.url.pathname}.`));
}

function onlyGet(route: Route): Route {
  return (ctx, settings, path, claims) => {
    if (ctx.req.method === 'GET' || ctx.req.method === 'HEAD') route(ctx, settings, path, claims);
    else sendJson(ctx, 405, problem(405, 'Method Not Allowed'), { allow: 'GET, HEAD' });
  };
}

function listOf(items: (settings: ApiSettings) => readonly unknown[]): Route {
  return onlyGet((ctx, settings) => {
    const query = parsePageQuery(ctx.url.searchParams);
    if (!query.ok) {
      sendJson(ctx, 400, problem(400, 'One or more validation errors occurred.', query.errors));
      return;
    }
    sendJson(ctx, 200, pageOf(items(settings), query.page, query.pageSize, query.includeTotal));
  });
}

const customer: Route = onlyGet((ctx, settings, path) => {
  const id = path.rest.slice('customers/'.length);
  const found = /^\d+$/.test(id) ? settings.customers.find((c) => c.id === Number(id)) : undefined;
  if (found) sendJson(ctx, 200, found);
  else sendJson(ctx, 404, problem(404, `Customer with ID ${id} was not found.`));
});

const customerExport: Route = onlyGet((ctx, settings) => {
  const offset = decodeFrom(ctx.url.searchParams.get('from'));
  if (offset === undefined) {
    const errors = { from: ['The value must be a previous continueFrom token or a date.'] };
    sendJson(ctx, 400, problem(400, 'One or more validation errors occurred.', errors));
    return;
  }
  sendJson(ctx, 200, exportBatch(settings.customers, offset, settings.exportBatchSize));
});

function tooManyRequests(ctx: RequestContext, settings: ApiSettings, retryAfterMs: number, title: string): void {
  settings.onRateLimited();
  const retryAfter = retryAfterValue(retryAfterMs, settings.retryAfterStyle);
  sendJson(ctx, 429, problem(429, title), retryAfter === undefined ? {} : { 'retry-after': retryAfter });
}

const reportCategories: Route = listOf(() => REPORT_CATEGORIES);

function validationProblem(ctx: RequestContext, errors: Record<string, string[]>): void {
  sendJson(ctx, 400, problem(400, 'One or more validation errors occurred.', errors));
}

/** `{ parameters: [{ name, value }…] }`, as ServiceTitan's report data endpoint takes it. */
function reportParametersError(body: unknown): string | undefined {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    return 'The request body must be a JSON object with a parameters array.';
  }
  const parameters = (body as { parameters?: unknown }).parameters;
  if (!Array.isArray(parameters)) return 'The parameters field is required and must be an array.';
  const bad = parameters.some(
    (p: unknown) =>
      p === null ||
      typeof p !== 'object' ||
      typeof (p as { name?: unknown }).name !== 'string' ||
      (p as { value?: unknown }).value === undefined,
  );
  return bad ? 'Each parameter must be an object with a string name and a value.' : undefined;
}

const reportData: Route = (ctx, settings, path, claims) => {
  if (ctx.req.method !== 'POST') {
    sendJson(ctx, 405, problem(405, 'Method Not Allowed'), { allow: 'POST' });
    return;
  }
  const reportId = /^report-category\/[^/]+\/reports\/(\d+)\/data$/.exec(path.rest)?.[1] ?? '';
  const query = parsePageQuery(ctx.url.searchParams, MAX_REPORT_PAGE_SIZE);
  if (!query.ok) {
    validationProblem(ctx, query.errors);
    return;
  }
  const bodyError = reportParametersError(parseBody(ctx));
  if (bodyError !== undefined) {
    validationProblem(ctx, { parameters: [bodyError] });
    return;
  }
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

const echo: Route = (ctx, _settings, _path, claims) => {
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

/**
 * `307` to the same URL with `redirected=1` added, then (on that hop) the echo: a same-origin
 * redirect, each hop an arrival that the rate limit counts, as ServiceTitan's would.
 */
const redirectOnce: Route = (ctx, settings, path, claims) => {
  if (ctx.url.searchParams.has('redirected')) {
    echo(ctx, settings, path, claims);
    return;
  }
  const next = new URL(ctx.url.pathname + ctx.url.search, 'http://127.0.0.1');
  next.searchParams.set('redirected', '1');
  send(ctx, 307, '', { location: next.pathname + next.search });
};

/** Picks the route for a parsed path, or undefined for a 404. */
function routeFor(path: ApiPath): Route | undefined {
  const key = `${path.module}/v${path.version}`;
  if (key === 'crm/v2') {
    if (path.rest === 'customers') return listOf((s) => s.customers);
    if (/^customers\/[^/]+$/.test(path.rest)) return customer;
    if (path.rest === 'export/customers') return customerExport;
  }
  if (key === 'telecom/v3' && path.rest === 'calls') return listOf((s) => s.calls);
  if (key === 'reporting/v2') {
    if (path.rest === 'report-categories') return reportCategories;
    if (/^report-category\/[^/]+\/reports\/\d+\/data$/.test(path.rest)) return reportData;
  }
  if (key === 'sandbox/v1' && (path.rest === 'echo' || path.rest.startsWith('echo/'))) return echo;
  if (key === 'sandbox/v1' && path.rest === 'redirect-once') return redirectOnce;
  return undefined;
}

/** The API's handler: authentication, app key and tenant checks, then the routes. */
export function createApiHandler(settings: ApiSettings): (ctx: RequestContext) => void {
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
    else route(ctx, settings, path, claims);
  };
}
