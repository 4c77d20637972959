import { createHash } from 'node:crypto';
import axios, {
  getAdapter,
  isAxiosError,
  type AxiosError,
  type AxiosInstance,
  type AxiosResponse,
  type InternalAxiosRequestConfig,
} from 'axios';
import PQueue from 'p-queue';
import { warnDegraded, type ServiceTitanLogger } from '../logging/logger';
import type { ClientTelemetry, RateLimitWait } from '../telemetry/client-telemetry';
import { cappedRetryAfterMs } from '../retry-after';
import { reportIdOfDataUrl } from '../report-data-url';
import { markDeadlineBound, startExchangeDeadline } from './deadline';
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
import { sendAndWhenWritten, type ExchangePlaces, type ReservedPlace } from './written';

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
  const limits = new ClientLimits({
    context,
    adapter: getAdapter(instance.defaults.adapter ?? axios.defaults.adapter),
    window,
    shared,
    concurrency,
    reportsPerMinute,
    // The same margin as the second's: a run must not reach the server before the run it replaces
    // has left the server's minute, however the network delays the two.
    reportWindowMs: REPORT_WINDOW_MS + (general?.windowMarginMs ?? DEFAULT_WINDOW_MARGIN_MS),
    pauseOn429Ms: general?.pauseOn429Ms ?? 1000,
  });
  instance.defaults.adapter = markDeadlineBound((config) => limits.exchange(config));
}

type Adapter = (config: InternalAxiosRequestConfig) => Promise<AxiosResponse>;

/** A request without a place to hold (no rolling second, no fleet budget: `rateLimit: false`). */
const NO_PLACE: ReservedPlace = Object.freeze({ commit() {}, cancel() {} });

/**
 * One client's limits around its adapter. Per request the common path (a free place in the
 * rolling second, no fleet budget, no concurrency cap, not a report) allocates one
 * {@link LimitedExchange} and awaits nothing but the exchange (issue 18 item 6).
 */
class ClientLimits {
  readonly #context: RateLimitContext;
  readonly #adapter: Adapter;
  readonly #window: SendTimeWindow | undefined;
  readonly #shared: SharedBudget | undefined;
  readonly #concurrency: PQueue | undefined;
  readonly #reportsPerMinute: number | undefined;
  readonly #reportWindowMs: number;
  readonly #pauseOn429Ms: number;
  readonly #reportWindows = new Map<string, SendTimeWindow>();

  constructor(limits: {
    context: RateLimitContext;
    adapter: Adapter;
    window: SendTimeWindow | undefined;
    shared: SharedBudget | undefined;
    concurrency: PQueue | undefined;
    reportsPerMinute: number | undefined;
    reportWindowMs: number;
    pauseOn429Ms: number;
  }) {
    this.#context = limits.context;
    this.#adapter = limits.adapter;
    this.#window = limits.window;
    this.#shared = limits.shared;
    this.#concurrency = limits.concurrency;
    this.#reportsPerMinute = limits.reportsPerMinute;
    this.#reportWindowMs = limits.reportWindowMs;
    this.#pauseOn429Ms = limits.pauseOn429Ms;
  }

  /**
   * The request's waits and exchange, within its deadline (rate-limit/deadline.ts). Every place
   * (the report's, the rolling second's, the fleet's) is released by the try/finally that begins
   * right after it is reserved; the telemetry calls sit inside those blocks, never between a
   * reservation and its block, so nothing an observer does can leak a place.
   */
  async exchange(config: InternalAxiosRequestConfig): Promise<AxiosResponse> {
    const deadline = startExchangeDeadline(config);
    const signal = deadline.signal;
    const wait = this.#context.telemetry.rateLimitWait();
    const reportWindow = this.#reportWindowFor(config.url);
    let reportSlot: WindowSlot | undefined;
    try {
      if (reportWindow !== undefined) reportSlot = await reportWindow.reserve(signal);
      return this.#concurrency === undefined
        ? await this.#send(config, signal, wait, reportSlot)
        : await this.#concurrency.add(() => this.#send(config, signal, wait, reportSlot), { signal });
    } catch (error) {
      throw deadline.failure(error);
    } finally {
      reportSlot?.cancel(); // a no-op once committed
      wait.abandoned(); // a no-op once sent: a request that left the queue unsent lands here
      deadline.end();
    }
  }

  /**
   * A place in the rolling second and the fleet's, for the request and for each redirect hop
   * (each is an arrival at a server); it counts from when it is committed (written).
   */
  async reservePlace(signal: AbortSignal): Promise<ReservedPlace> {
    const slot = await this.#window?.reserve(signal);
    let sharedPlace: SharedPlace | undefined;
    try {
      sharedPlace = await this.#shared?.take(signal);
    } catch (error) {
      slot?.cancel();
      throw error;
    }
    if (sharedPlace === undefined) return slot ?? NO_PLACE;
    return new BothPlaces(slot, sharedPlace, this.#shared!);
  }

  async #send(
    config: InternalAxiosRequestConfig,
    signal: AbortSignal,
    wait: RateLimitWait,
    reportSlot: WindowSlot | undefined,
  ): Promise<AxiosResponse> {
    // Without a fleet budget, a free place in the rolling second is the request's place, taken
    // at once: no promise, no turn of the event loop on the common path.
    const place =
      (this.#shared === undefined ? this.#window?.tryReserve() : undefined) ??
      (this.#window === undefined && this.#shared === undefined ? NO_PLACE : await this.reservePlace(signal));
    // Nothing counts from this request's write (no rolling second, no fleet budget, not a report
    // run): it goes to the adapter as it is, without the agent wrapper and listeners that watch
    // for the write (0.9 % of such a client's CPU per request, docs/performance.md), and a 429
    // pauses nothing.
    if (place === NO_PLACE && reportSlot === undefined) {
      wait.sent();
      return this.#adapter(config);
    }
    // The send time is taken once the request has been written (written.ts): a burst's
    // requests leave one after another, and one on a new connection only once it is up;
    // their places must count from when each reaches the wire, or the next window's burst
    // overlaps this one's stragglers at the server. Until then the places stay reserved,
    // which counts them and never lets them expire.
    const exchange = new LimitedExchange(this, signal, place, reportSlot);
    try {
      wait.sent();
      return await sendAndWhenWritten(config, this.#adapter, exchange);
    } catch (error) {
      if (isAxiosError(error) && error.response?.status === 429) this.#pauseFor429(config, error);
      throw error;
    } finally {
      exchange.written(); // a no-op once written; a request dropped unseen counts from now
    }
  }

  /**
   * A 429 pauses every request of the client for its `Retry-After`. A report's 429 is that
   * report's limit: it holds back that report (when the reporting limit is on), never the
   * client's other traffic.
   */
  #pauseFor429(config: InternalAxiosRequestConfig, error: AxiosError): void {
    const pausedWindow = reportIdOfDataUrl(config.url) === undefined ? this.#window : this.#reportWindowFor(config.url);
    const waitMs = Math.min(
      cappedRetryAfterMs(error, this.#context.maxRetryAfterMs) ?? this.#pauseOn429Ms,
      this.#context.maxRetryAfterMs,
    );
    pausedWindow?.pauseUntil(pausedWindow.now() + waitMs);
  }

  /** The report's own window for a report-data call (when the reporting limit is on). */
  #reportWindowFor(url: string | undefined): SendTimeWindow | undefined {
    if (this.#reportsPerMinute === undefined) return undefined;
    const reportId = reportIdOfDataUrl(url);
    if (reportId === undefined) return undefined;
    let found = this.#reportWindows.get(reportId);
    if (found === undefined) {
      found = new SendTimeWindow(this.#reportsPerMinute, this.#reportWindowMs);
      this.#reportWindows.set(reportId, found);
    }
    return found;
  }
}

/** One request's exchange: its places are committed when its first request is written (written.ts). */
class LimitedExchange implements ExchangePlaces {
  readonly #limits: ClientLimits;
  readonly #signal: AbortSignal;
  readonly #place: ReservedPlace;
  readonly #reportSlot: WindowSlot | undefined;

  constructor(limits: ClientLimits, signal: AbortSignal, place: ReservedPlace, reportSlot: WindowSlot | undefined) {
    this.#limits = limits;
    this.#signal = signal;
    this.#place = place;
    this.#reportSlot = reportSlot;
  }

  written(): void {
    this.#reportSlot?.commit();
    this.#place.commit();
  }

  renewStale(hop?: ReservedPlace): Promise<void> | undefined {
    return (hop ?? this.#place).renewIfStale?.(this.#signal);
  }

  mayGoStale(): boolean {
    return this.#place.renewIfStale !== undefined;
  }

  reserveHop(): Promise<ReservedPlace> {
    return this.#limits.reservePlace(this.#signal);
  }
}

/** A place in the rolling second and the fleet's, committed and cancelled together. */
class BothPlaces implements ReservedPlace {
  readonly #slot: WindowSlot | undefined;
  #sharedPlace: SharedPlace;
  readonly #budget: SharedBudget;
  #committed = false;

  constructor(slot: WindowSlot | undefined, sharedPlace: SharedPlace, budget: SharedBudget) {
    this.#slot = slot;
    this.#sharedPlace = sharedPlace;
    this.#budget = budget;
  }

  /**
   * Undefined while the fleet's place is counted by the store; once it is stale (the process did
   * not run for most of a window since it was taken: SharedPlace.stale), a new one, taken before
   * the request is written. The rolling second's slot stays: it counts from the write, and never
   * lapses while reserved. The stale place stays recorded, counting from when it was (the safe
   * side), and is no longer held.
   */
  renewIfStale(signal: AbortSignal): Promise<void> | undefined {
    if (this.#committed || !this.#sharedPlace.stale()) return undefined;
    return this.#budget.take(signal).then((fresh) => {
      this.#sharedPlace.cancel();
      this.#sharedPlace = fresh;
    });
  }

  commit(): void {
    if (this.#committed) return;
    this.#committed = true;
    this.#slot?.commit();
    this.#sharedPlace.sent();
  }

  cancel(): void {
    this.#slot?.cancel();
    this.#sharedPlace.cancel();
  }
}

/** The budget's name: ServiceTitan's unit is (application, tenant); the app key is hashed. */
function budgetKey(appKey: string, tenant: string | undefined): string {
  return createHash('sha256')
    .update(`${appKey}\n${tenant ?? ''}`)
    .digest('hex')
    .slice(0, 32);
}
