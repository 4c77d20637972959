import type { BodySchema } from './body-schema';
import {
  DEFAULT_REPORT_PAGE_SIZE,
  generateReportRows,
  MAX_REPORT_PAGE_SIZE,
  pageOf,
  parsePageQuery,
  REPORT_CATEGORIES,
  REPORT_FIELDS,
} from './data';
import { sendJson } from './http';
import { byMethod, listOf, tooManyRequests, validationProblem, validBody, type Route } from './routing';

/** Reporting v2: the categories and a report's data, under the per-report run limit. */

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

/** `/reporting/v2/tenant/{t}/report-categories`. */
export const reportCategoriesRoute = byMethod({ GET: reportCategories });
/** `/reporting/v2/tenant/{t}/report-category/{c}/reports/{id}/data`. */
export const reportDataRoute = byMethod({ POST: reportData });
