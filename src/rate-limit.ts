import axios, { CanceledError, getAdapter, isAxiosError, type AxiosAdapter, type AxiosInstance } from 'axios';
import PQueue from 'p-queue';
import { invalidConfig } from './errors';
import { noopTelemetry, type ClientTelemetry } from './telemetry/client-telemetry';
import { describe } from './urls';

/** Client-side rate limiting of API requests; `false` turns it off. */
export interface RateLimitOptions {
  /**
   * Most requests the server can see arrive in any rolling second (ServiceTitan: 60 per
   * application per tenant; one client serves one tenant). Requests over the limit wait; they
   * never fail. @default 60
   */
  requestsPerSecond?: number;
  /** Most requests in flight at once. @default Infinity */
  maxConcurrent?: number;
}

/** The reporting limit: report-data calls per report and tenant; `false` turns it off. */
export interface ReportLimitOptions {
  /** Most data calls for the same report the server can see in any rolling minute (ServiceTitan: 5). @default 5 */
  perMinute?: number;
}

// ServiceTitan's report-data endpoint: POST /reporting/v2/tenant/{t}/report-category/{c}/reports/{id}/data
const REPORT_DATA_PATH = /\/reporting\/v\d+\/tenant\/[^/]+\/report-category\/[^/]+\/reports\/([^/?#]+)\/data(?:[?#]|$)/;

/**
 * At most `limit` requests hold a permit at once; a request takes one when it starts and gives
 * it back `holdAfterMs` after its answer arrived (0: at once, a plain concurrency limit).
 *
 * With `holdAfterMs` = a window, that is a rolling-window rate limit as the server counts it:
 * the server received each request before its answer, so any window at the server holds at most
 * `limit` arrivals, whatever the network delays (a window over start times does not: a burst's
 * requests arrive spread out). The queue is p-queue, so an aborted request leaves it at once.
 */
class PermitQueue {
  readonly #queue: PQueue;
  readonly #holdAfterMs: number;

  constructor(limit: number, holdAfterMs: number) {
    this.#queue = new PQueue({ concurrency: limit });
    this.#holdAfterMs = holdAfterMs;
  }

  run<T>(exchange: () => Promise<T>, signal: AbortSignal | undefined): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const task = () =>
        new Promise<void>((releasePermit) => {
          exchange()
            .then(resolve, reject)
            .finally(() => {
              if (this.#holdAfterMs === 0) releasePermit();
              else setTimeout(releasePermit, this.#holdAfterMs).unref();
            });
        });
      this.#queue.add(task, signal === undefined ? {} : { signal }).catch(reject);
    });
  }
}

/**
 * Wraps the instance's adapter, so the limits span exactly the HTTP exchange: 401 replays and
 * retries queue like any request, and no interceptor order can leak a permit. A request passes
 * its report's quota first, then the rolling second, then the concurrency cap.
 */
export function installRateLimit(
  instance: AxiosInstance,
  rateLimit: RateLimitOptions | false | undefined,
  reportLimit: ReportLimitOptions | false | undefined,
  telemetry: ClientTelemetry = noopTelemetry,
): void {
  const reportQueueFor = reportLimit === false ? undefined : createReportQueues(reportLimit ?? {});
  const generalQueues = rateLimit === false ? [] : createGeneralQueues(rateLimit ?? {});
  if (reportQueueFor === undefined && generalQueues.length === 0) return;
  const adapter = getAdapter(instance.defaults.adapter ?? axios.defaults.adapter);

  instance.defaults.adapter = async (config) => {
    const signal = config.signal as AbortSignal | undefined;
    const wait = telemetry.rateLimitWait();
    const reportQueue = reportQueueFor?.(config.url);
    const queues = reportQueue === undefined ? generalQueues : [reportQueue, ...generalQueues];
    const exchange = queues.reduceRight<() => ReturnType<AxiosAdapter>>(
      (inner, queue) => () => queue.run(inner, signal),
      () => {
        wait.sent();
        return adapter(config);
      },
    );
    try {
      return await exchange();
    } catch (error) {
      wait.abandoned();
      if (signal?.aborted && !isAxiosError(error)) throw new CanceledError(undefined, config);
      throw error;
    }
  };
}

function createGeneralQueues(options: RateLimitOptions): PermitQueue[] {
  if (options === null || typeof options !== 'object') {
    throw invalidConfig(`rateLimit must be an object or false, got ${describe(options)}`);
  }
  const perSecond = integerOption(options.requestsPerSecond, 'rateLimit.requestsPerSecond', 60);
  const queues = [new PermitQueue(perSecond, 1000)];
  if (options.maxConcurrent !== undefined && options.maxConcurrent !== Number.POSITIVE_INFINITY) {
    queues.push(new PermitQueue(integerOption(options.maxConcurrent, 'rateLimit.maxConcurrent', 1), 0));
  }
  return queues;
}

function createReportQueues(options: ReportLimitOptions): (url: string | undefined) => PermitQueue | undefined {
  if (options === null || typeof options !== 'object') {
    throw invalidConfig(`reportLimit must be an object or false, got ${describe(options)}`);
  }
  const perMinute = integerOption(options.perMinute, 'reportLimit.perMinute', 5);
  const byReport = new Map<string, PermitQueue>();
  return (url) => {
    const reportId = url === undefined ? undefined : REPORT_DATA_PATH.exec(url)?.[1];
    if (reportId === undefined) return undefined;
    let queue = byReport.get(reportId);
    if (queue === undefined) {
      queue = new PermitQueue(perMinute, 60_000);
      byReport.set(reportId, queue);
    }
    return queue;
  };
}

function integerOption(value: unknown, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    throw invalidConfig(`${name} must be an integer >= 1, got ${describe(value)}`);
  }
  return value;
}
