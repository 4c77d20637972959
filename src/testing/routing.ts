import type { ApiAuthSettings } from './api-auth';
import { validateBody, type BodySchema, type FieldErrors } from './body-schema';
import { pageOf, parsePageQuery, type SandboxCall } from './data';
import type { CustomerStore, SandboxCustomer } from './customers';
import { mediaType, sendJson, type RequestContext } from './http';
import type { AccessTokenClaims } from './jwt';
import { filterList, LIST_FILTERS, sortOrder, type FilterableRecord } from './list-filters';
import { problem } from './problem';
import { retryAfterValue, type SlidingWindowLimiter } from './rate-limit';
import type { RetryAfterStyle } from './types';

/*
 * What every route of the emulated API shares: its settings and state, the method dispatch,
 * request bodies checked against their schema, paged lists and the error answers.
 */

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
export interface ApiPath {
  module: string;
  version: number;
  tenant: string;
  rest: string;
}

/** What the routes keep between requests. */
export interface ApiState {
  /** Customers by tenant, created from the seed on a tenant's first customer request. */
  customers: Map<string, CustomerStore>;
  /** Ids of the locations and contacts a created customer gets. */
  nextSubId: number;
}

export interface RouteContext {
  settings: ApiSettings;
  state: ApiState;
  path: ApiPath;
  claims: AccessTokenClaims;
}

export type Route = (ctx: RequestContext, route: RouteContext) => void;

export function notFound(ctx: RequestContext): void {
  sendJson(ctx, 404, problem(404, `No resource at ${ctx.url.pathname}.`));
}

export function validationProblem(ctx: RequestContext, errors: FieldErrors): void {
  sendJson(ctx, 400, problem(400, 'One or more validation errors occurred.', errors));
}

/** Dispatches on the method; anything else is a 405 naming the methods the resource has. */
export function byMethod(routes: { GET?: Route; POST?: Route; PATCH?: Route }): Route {
  const allowed = [...Object.keys(routes), ...(routes.GET ? ['HEAD'] : [])];
  return (ctx, route) => {
    const method = ctx.req.method === 'HEAD' ? 'GET' : ctx.req.method;
    const handler = routes[method as keyof typeof routes];
    if (handler) handler(ctx, route);
    else sendJson(ctx, 405, problem(405, 'Method Not Allowed'), { allow: allowed.join(', ') });
  };
}

/** The request body as JSON: undefined when empty, the text itself when it is not JSON. */
export function jsonBody(ctx: RequestContext): unknown {
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
export function validBody<T>(ctx: RequestContext, schema: BodySchema): T | undefined {
  const body = jsonBody(ctx);
  const errors = validateBody(schema, body);
  if (Object.keys(errors).length === 0) return body as T;
  validationProblem(ctx, errors);
  return undefined;
}

/** A paged list of `items(route)`, filtered and sorted by `LIST_FILTERS` through `fields`. */
export function listOf<T>(items: (route: RouteContext) => readonly T[], fields?: (item: T) => FilterableRecord): Route {
  return (ctx, route) => {
    const query = parsePageQuery(ctx.url.searchParams, fields ? LIST_FILTERS : undefined);
    if (!query.ok) {
      validationProblem(ctx, query.errors);
      return;
    }
    let selected = items(route);
    if (fields) {
      const order = sortOrder(query.values['sort']);
      if (order instanceof Error) {
        validationProblem(ctx, { sort: [order.message] });
        return;
      }
      selected = filterList(selected, query.values, fields).sort((a, b) => order(fields(a), fields(b)));
    }
    sendJson(ctx, 200, pageOf(selected, query.page, query.pageSize, query.includeTotal));
  };
}

export function tooManyRequests(ctx: RequestContext, settings: ApiSettings, retryAfterMs: number, title: string): void {
  settings.onRateLimited();
  const retryAfter = retryAfterValue(retryAfterMs, settings.retryAfterStyle);
  sendJson(ctx, 429, problem(429, title), retryAfter === undefined ? {} : { 'retry-after': retryAfter });
}
