import axios, { CanceledError, getAdapter, isAxiosError, type AxiosAdapter, type AxiosInstance } from 'axios';
import PQueue from 'p-queue';
import { invalidConfig } from './errors';
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
 * At most `limit` requests per rolling `windowMs` as the server counts them. A request takes a
 * permit when it starts and gives it back `windowMs` after its answer arrived: the server
 * received it before that, so any `windowMs` at the server holds at most `limit` arrivals,
 * whatever the network delays (a window over start times does not: a burst's requests arrive
 * spread out). The queue is p-queue, so an aborted request leaves it at once.
 */
class RollingWindowLimiter {
  readonly #queue: PQueue;
  readonly #windowMs: number;

  constructor(limit: number, windowMs: number) {
    this.#queue = new PQueue({ concurrency: limit });
    this.#windowMs = windowMs;
  }

  run<T>(exchange: () => Promise<T>, signal: AbortSignal | undefined): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const task = () =>
        new Promise<void>((releasePermit) => {
          exchange()
            .then(resolve, reject)
            .finally(() => setTimeout(releasePermit, this.#windowMs).unref());
        });
      this.#queue.add(task, signal === undefined ? {} : { signal }).catch(reject);
    });
  }
}

/**
 * Wraps the instance's adapter, so the limits span exactly the HTTP exchange: 401 replays and
 * retries queue like any request, and no interceptor order can leak a permit.
 */
export function installRateLimit(
  instance: AxiosInstance,
  rateLimit: RateLimitOptions | false | undefined,
  reportLimit: ReportLimitOptions | false | undefined,
): void {
  const limiters: Array<(config: Parameters<AxiosAdapter>[0]) => RollingWindowLimiter | PQueue | undefined> = [];
  if (reportLimit !== false) limiters.push(reportLimiters(reportLimit ?? {}));
  if (rateLimit !== false) limiters.push(...generalLimiters(rateLimit ?? {}));
  if (limiters.length === 0) return;
  const adapter = getAdapter(instance.defaults.adapter ?? axios.defaults.adapter);

  instance.defaults.adapter = async (config) => {
    const signal = config.signal as AbortSignal | undefined;
    // Outermost limiter first: the report quota, then the rolling second, then concurrency.
    const exchange = limiters.reduceRight<() => ReturnType<AxiosAdapter>>(
      (inner, pick) => {
        const limiter = pick(config);
        if (limiter === undefined) return inner;
        if (limiter instanceof PQueue) return () => limiter.add(inner, signal === undefined ? {} : { signal });
        return () => limiter.run(inner, signal);
      },
      () => adapter(config),
    );
    try {
      return await exchange();
    } catch (error) {
      if (signal?.aborted && !isAxiosError(error)) throw new CanceledError(undefined, config);
      throw error;
    }
  };
}

function generalLimiters(options: RateLimitOptions) {
  if (options === null || typeof options !== 'object')
    throw invalidConfig(`rateLimit must be an object or false, got ${describe(options)}`);
  const perSecond = integerOption(options.requestsPerSecond, 'rateLimit.requestsPerSecond', 60);
  const window = new RollingWindowLimiter(perSecond, 1000);
  const maxConcurrent = options.maxConcurrent ?? Number.POSITIVE_INFINITY;
  if (maxConcurrent !== Number.POSITIVE_INFINITY) integerOption(maxConcurrent, 'rateLimit.maxConcurrent', 1);
  const inFlight = maxConcurrent === Number.POSITIVE_INFINITY ? undefined : new PQueue({ concurrency: maxConcurrent });
  return [() => window, () => inFlight];
}

function reportLimiters(options: ReportLimitOptions) {
  if (options === null || typeof options !== 'object')
    throw invalidConfig(`reportLimit must be an object or false, got ${describe(options)}`);
  const perMinute = integerOption(options.perMinute, 'reportLimit.perMinute', 5);
  const byReport = new Map<string, RollingWindowLimiter>();
  return (config: { url?: string }) => {
    const reportId = config.url === undefined ? undefined : REPORT_DATA_PATH.exec(config.url)?.[1];
    if (reportId === undefined) return undefined;
    let limiter = byReport.get(reportId);
    if (limiter === undefined) {
      limiter = new RollingWindowLimiter(perMinute, 60_000);
      byReport.set(reportId, limiter);
    }
    return limiter;
  };
}

function integerOption(value: unknown, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    throw invalidConfig(`${name} must be an integer >= 1, got ${describe(value)}`);
  }
  return value;
}
