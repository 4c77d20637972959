import { createHash } from 'node:crypto';
import axios, { getAdapter, isAxiosError, type AxiosInstance, type AxiosResponse } from 'axios';
import PQueue from 'p-queue';
import { warnDegraded, type ServiceTitanLogger } from '../logging/logger';
import type { ClientTelemetry } from '../telemetry/client-telemetry';
import { cappedRetryAfterMs } from '../retry-after';
import { reportIdOfDataUrl } from '../report-data-url';
import { markDeadlineBound, withinDeadline } from './deadline';
import {
  DEFAULT_WINDOW_MARGIN_MS,
  REPORT_WINDOW_MS,
  resolveRateLimit,
  resolveReportLimit,
  type RateLimitOptions,
  type ReportLimitOptions,
} from './options';
import { SharedBudget, type SharedPlace } from './shared-budget';
import { SendTimeWindow, type WindowSlot } from './sliding-window';
import { sendAndWhenWritten, type ReservedPlace } from './written';

/** What the limiter needs to know about its client. */
export interface RateLimitContext {
  /** With the tenant, names the shared budget (hashed: the app key never reaches a store). */
  appKey: string;
  tenant: string | undefined;
  /** The client's logger (silent by default: a store outage is then one `process.emitWarning`). */
  logger: ServiceTitanLogger;
  /** The longest `Retry-After` a 429 may pause the client for (`retry.maxRetryAfterMs`). */
  maxRetryAfterMs: number;
  /** Records waits in the limiter and store fallbacks (a no-op without OpenTelemetry). */
  telemetry: ClientTelemetry;
}

/**
 * Wraps the instance's adapter, so the limits and the request's deadline span exactly the HTTP
 * exchange: 401 replays and retries queue like any request, and no interceptor order can leak a
 * place. A request takes its report's place (report-data calls), then a concurrency permit, then
 * a place in the rolling second, then the fleet's (with a store); all count from the moment it is
 * sent. A 429 pauses every request of the client (or of that report) for its `Retry-After`.
 */
export function installRateLimit(
  instance: AxiosInstance,
  rateLimit: RateLimitOptions | false | undefined,
  reportLimit: ReportLimitOptions | false | undefined,
  context: RateLimitContext,
): void {
  const general = resolveRateLimit(rateLimit);
  const reportsPerMinute = resolveReportLimit(reportLimit);
  const window = general && new SendTimeWindow(general.requestsPerSecond, general.windowMs);
  const concurrency =
    general?.maxConcurrent === undefined ? undefined : new PQueue({ concurrency: general.maxConcurrent });
  const shared =
    general?.store &&
    new SharedBudget({
      store: general.store,
      key: budgetKey(context.appKey, context.tenant),
      limit: general.requestsPerSecond,
      windowMs: general.windowMs,
      windowMarginMs: general.windowMarginMs,
      logger: context.logger,
      fellBack: (message, firstOfOutage) => {
        context.telemetry.storeFallback('rate_limit_store');
        if (firstOfOutage) warnDegraded(context.logger, 'rate_limit_store', message);
      },
    });
  const reportWindows = new Map<string, SendTimeWindow>();
  // The same margin as the second's: a run must not reach the server before the run it replaces
  // has left the server's minute, however the network delays the two.
  const reportWindowMs = REPORT_WINDOW_MS + (general?.windowMarginMs ?? DEFAULT_WINDOW_MARGIN_MS);
  const reportWindowFor = (url: string | undefined): SendTimeWindow | undefined => {
    if (reportsPerMinute === undefined) return undefined;
    const reportId = reportIdOfDataUrl(url);
    if (reportId === undefined) return undefined;
    let found = reportWindows.get(reportId);
    if (found === undefined) {
      found = new SendTimeWindow(reportsPerMinute, reportWindowMs);
      reportWindows.set(reportId, found);
    }
    return found;
  };
  const adapter = getAdapter(instance.defaults.adapter ?? axios.defaults.adapter);

  // Every place (the report's, the rolling second's, the fleet's) is released by the try/finally
  // that begins right after it is reserved; the telemetry calls sit inside those blocks, never
  // between a reservation and its block, so nothing an observer does can leak a place.
  instance.defaults.adapter = markDeadlineBound((config) =>
    withinDeadline(config, async (signal) => {
      const wait = context.telemetry.rateLimitWait();
      let reportSlot: WindowSlot | undefined;
      const reportWindow = reportWindowFor(config.url);
      // A place in the rolling second and the fleet's, for the request and for each redirect hop
      // (each is an arrival at a server); it counts from when it is committed (written).
      const reservePlace = async (): Promise<ReservedPlace> => {
        const slot = await window?.reserve(signal);
        let sharedPlace: SharedPlace | undefined;
        try {
          sharedPlace = await shared?.take(signal);
        } catch (error) {
          slot?.cancel();
          throw error;
        }
        let committed = false;
        return {
          commit: () => {
            if (committed) return;
            committed = true;
            slot?.commit();
            sharedPlace?.sent();
          },
          cancel: () => {
            slot?.cancel();
            sharedPlace?.cancel();
          },
        };
      };
      const send = async (): Promise<AxiosResponse> => {
        // Without a fleet budget, a free place in the rolling second is the request's place, taken
        // at once: no promise, no turn of the event loop on the common path (issue 18 item 6).
        const place = (shared === undefined ? window?.tryReserve() : undefined) ?? (await reservePlace());
        // The send time is taken once the request has been written (written.ts): a burst's
        // requests leave one after another, and one on a new connection only once it is up;
        // their places must count from when each reaches the wire, or the next window's burst
        // overlaps this one's stragglers at the server. Until then the places stay reserved,
        // which counts them and never lets them expire.
        const slot = reportSlot;
        const commit =
          slot === undefined
            ? place.commit
            : () => {
                slot.commit();
                place.commit();
              };
        try {
          wait.sent();
          return await sendAndWhenWritten(config, () => adapter(config), { written: commit, reserveHop: reservePlace });
        } catch (error) {
          if (isAxiosError(error) && error.response?.status === 429) {
            // A report's 429 is that report's limit: it holds back that report (when the reporting
            // limit is on), never the client's other traffic.
            const pausedWindow = reportIdOfDataUrl(config.url) === undefined ? window : reportWindow;
            const waitMs = Math.min(
              cappedRetryAfterMs(error, context.maxRetryAfterMs) ?? general?.pauseOn429Ms ?? 1000,
              context.maxRetryAfterMs,
            );
            pausedWindow?.pauseUntil(pausedWindow.now() + waitMs);
          }
          throw error;
        } finally {
          commit(); // a no-op once written; a request dropped unseen counts from now
        }
      };
      try {
        reportSlot = await reportWindow?.reserve(signal);
        return concurrency === undefined ? await send() : await concurrency.add(send, { signal });
      } finally {
        reportSlot?.cancel(); // a no-op once committed
        wait.abandoned(); // a no-op once sent: a request that left the queue unsent lands here
      }
    }),
  );
}

/** The budget's name: ServiceTitan's unit is (application, tenant); the app key is hashed. */
function budgetKey(appKey: string, tenant: string | undefined): string {
  return createHash('sha256')
    .update(`${appKey}\n${tenant ?? ''}`)
    .digest('hex')
    .slice(0, 32);
}
