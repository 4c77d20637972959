import { createHash } from 'node:crypto';
import axios, { getAdapter, isAxiosError, type AxiosInstance, type AxiosResponse } from 'axios';
import PQueue from 'p-queue';
import { warnDegraded, type ServiceTitanLogger } from '../logging/logger';
import type { ClientTelemetry } from '../telemetry/client-telemetry';
import { retryAfterMs } from '../retry-after';
import { withinDeadline } from './deadline';
import { resolveRateLimit, resolveReportLimit, type RateLimitOptions, type ReportLimitOptions } from './options';
import { SharedBudget } from './shared-budget';
import { SendTimeWindow, type WindowSlot } from './sliding-window';
import { sendAndWhenWritten, type HopPlace } from './written';

// ServiceTitan's report-data endpoint: POST /reporting/v2/tenant/{t}/report-category/{c}/reports/{id}/data
const REPORT_DATA_PATH = /\/reporting\/v\d+\/tenant\/[^/]+\/report-category\/[^/]+\/reports\/([^/?#]+)\/data(?:[?#]|$)/;

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
      logger: context.logger,
      fellBack: (message, firstOfOutage) => {
        context.telemetry.storeFallback('rate_limit_store');
        if (firstOfOutage) warnDegraded(context.logger, 'rate_limit_store', message);
      },
    });
  const reportWindows = new Map<string, SendTimeWindow>();
  const reportWindowFor = (url: string | undefined): SendTimeWindow | undefined => {
    if (reportsPerMinute === undefined || url === undefined) return undefined;
    const reportId = REPORT_DATA_PATH.exec(url)?.[1];
    if (reportId === undefined) return undefined;
    let found = reportWindows.get(reportId);
    if (found === undefined) {
      found = new SendTimeWindow(reportsPerMinute, 60_000);
      reportWindows.set(reportId, found);
    }
    return found;
  };
  const adapter = getAdapter(instance.defaults.adapter ?? axios.defaults.adapter);

  instance.defaults.adapter = (config) =>
    withinDeadline(config, async (signal) => {
      const wait = context.telemetry.rateLimitWait();
      const reportWindow = reportWindowFor(config.url);
      let reportSlot: WindowSlot | undefined;
      try {
        reportSlot = await reportWindow?.reserve(signal);
      } catch (error) {
        wait.abandoned();
        throw error;
      }
      const send = async (): Promise<AxiosResponse> => {
        let slot: WindowSlot | undefined;
        let markSharedSent: (() => void) | undefined;
        try {
          slot = await window?.reserve(signal);
          markSharedSent = await shared?.take(signal);
        } catch (error) {
          slot?.cancel();
          wait.abandoned();
          throw error;
        }
        wait.sent();
        // The send time is taken once the request has been written (written.ts): a burst's
        // requests leave one after another, and one on a new connection only once it is up;
        // their places must count from when each reaches the wire, or the next window's burst
        // overlaps this one's stragglers at the server. Until then the places stay reserved,
        // which counts them and never lets them expire.
        let committed = false;
        const commit = () => {
          if (committed) return;
          committed = true;
          reportSlot?.commit();
          slot?.commit();
          markSharedSent?.();
        };
        // Each redirect hop is an arrival at a server: it waits for places of its own, sent
        // (and committed) like the request it follows.
        const reserveHop = async (): Promise<HopPlace> => {
          const hopSlot = await window?.reserve(signal);
          let markHopSent: (() => void) | undefined;
          try {
            markHopSent = await shared?.take(signal);
          } catch (error) {
            hopSlot?.cancel();
            throw error;
          }
          let hopCommitted = false;
          return {
            commit: () => {
              if (hopCommitted) return;
              hopCommitted = true;
              hopSlot?.commit();
              markHopSent?.();
            },
            cancel: () => hopSlot?.cancel(),
          };
        };
        const exchange = sendAndWhenWritten(config, () => adapter(config), { written: commit, reserveHop });
        try {
          return await exchange;
        } catch (error) {
          if (isAxiosError(error) && error.response?.status === 429) {
            const pausedWindow = reportWindow ?? window;
            const waitMs = Math.min(retryAfterMs(error) ?? general?.pauseOn429Ms ?? 1000, context.maxRetryAfterMs);
            pausedWindow?.pauseUntil(pausedWindow.now() + waitMs);
          }
          throw error;
        } finally {
          commit(); // a no-op once written; a request dropped unseen counts from now
        }
      };
      try {
        return concurrency === undefined ? await send() : await concurrency.add(send, { signal });
      } catch (error) {
        wait.abandoned(); // a no-op once sent: only an abort while queued for concurrency lands here
        throw error;
      } finally {
        reportSlot?.cancel();
      }
    });
}

/** The budget's name: ServiceTitan's unit is (application, tenant); the app key is hashed. */
function budgetKey(appKey: string, tenant: string | undefined): string {
  return createHash('sha256')
    .update(`${appKey}\n${tenant ?? ''}`)
    .digest('hex')
    .slice(0, 32);
}
