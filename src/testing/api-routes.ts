import { authenticate } from './api-auth';
import { customerExportRoute, customerRoute, customersRoute } from './customer-routes';
import type { SandboxCall } from './data';
import { queryObject, send, sendJson, type RequestContext } from './http';
import { reportCategoriesRoute, reportDataRoute } from './report-routes';
import {
  byMethod,
  jsonBody,
  listOf,
  notFound,
  tooManyRequests,
  type ApiPath,
  type ApiSettings,
  type ApiState,
  type Route,
} from './routing';

export type { ApiSettings } from './routing';

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

const echo: Route = (ctx, { claims }) => {
  sendJson(ctx, 200, {
    method: ctx.req.method,
    path: ctx.url.pathname,
    query: queryObject(ctx.url),
    tokenId: claims.jti,
    appKey: ctx.record.appKey !== undefined,
    headers: ctx.record.headers,
    body: jsonBody(ctx) ?? null,
  });
};

const calls = byMethod({
  GET: listOf(
    ({ settings }) => settings.calls,
    (call: SandboxCall) => ({ ...call.leadCall, id: call.id }),
  ),
});

/**
 * `307` to the same URL with `redirected=1` added, then (on that hop) the echo: a same-origin
 * redirect, each hop an arrival that the rate limit counts, as ServiceTitan's would.
 */
const redirectOnce: Route = (ctx, route) => {
  if (ctx.url.searchParams.has('redirected')) {
    echo(ctx, route);
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
    if (path.rest === 'customers') return customersRoute;
    if (/^customers\/[^/]+$/.test(path.rest)) return customerRoute;
    if (path.rest === 'export/customers') return customerExportRoute;
  }
  if (key === 'telecom/v3' && path.rest === 'calls') return calls;
  if (key === 'reporting/v2') {
    if (path.rest === 'report-categories') return reportCategoriesRoute;
    if (/^report-category\/[^/]+\/reports\/\d+\/data$/.test(path.rest)) return reportDataRoute;
  }
  if (key === 'sandbox/v1' && (path.rest === 'echo' || path.rest.startsWith('echo/'))) return echo;
  if (key === 'sandbox/v1' && path.rest === 'redirect-once') return redirectOnce;
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
