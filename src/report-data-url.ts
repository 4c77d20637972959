// ServiceTitan's report-data endpoint: POST /reporting/v2/tenant/{t}/report-category/{c}/reports/{id}/data
const REPORT_DATA_PATH = /\/reporting\/v\d+\/tenant\/[^/]+\/report-category\/[^/]+\/reports\/([^/?#]+)\/data(?:[?#]|$)/;

/**
 * The report id when `url` is a report-data call, else undefined. Two layers need to know: the
 * reporting limit (one window per report) and the retries (that POST is a read, retried like a GET).
 */
export function reportIdOfDataUrl(url: string | undefined): string | undefined {
  return url === undefined ? undefined : REPORT_DATA_PATH.exec(url)?.[1];
}
