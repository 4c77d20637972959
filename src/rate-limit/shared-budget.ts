import { randomBytes } from 'node:crypto';
import type { ServiceTitanLogger } from '../logging/logger';
import { abortReason } from '../abort';
import { withCommandTimeout } from '../stores/command-timeout';
import type { RateLimitStore, RateLimitTakeAnswer, WrittenRequest } from './store';
import { recentTakeDelayMs, recordTakeDelay } from './take-delays';

/** While the store is failing, it is tried again at most this often (each try may take its command timeout). */
const STORE_RETRY_INTERVAL_MS = 1000;
/** A store call that takes longer than this counts as a failure (RedisRateLimitStore bounds its own, lower). */
const STORE_CALL_BOUND_MS = 2000;
/**
 * A request written within this long of the call that recorded it needs no record of its write:
 * it counts from when the store recorded it, at most this much early, which the window's margin
 * absorbs (at most a fortieth of it). Not more: the margin is there for the network's jitter, and
 * 5 ms of it spent here let a busy machine's fleet see 429s that the exact count did not; the
 * other requests cost no call of their own anyway while the client is busy (they ride on its
 * next take, see HOLD_FRACTION).
 */
const SKIP_MARK_MAX_MS = 1;
/**
 * The others are recorded as written (with how long ago: each counts from its write) by the
 * client's next take, which carries them, or by a call of their own once the oldest has waited
 * this fraction of the window: a request's record must be moved before it leaves the window,
 * and one still unwritten then is re-recorded (its time moved to now, checked every quarter
 * window) so that it never leaves the window, nor its key expires, before it is written, however
 * long its connection takes.
 */
const HOLD_FRACTION = 0.5;
/** A request unwritten for this long is no longer held (no request waits that long to be written). */
const MAX_HOLD_MS = 120_000;
/**
 * A take delay below this needs no lead: the window's margin (40 ms by default) absorbs it, as it
 * absorbs the network's jitter; a lead costs a report for each request (its place would otherwise
 * count that much longer than needed).
 */
const LEAD_MIN_MS = 10;
/**
 * A place still unwritten this long (a fraction of the window) after the time its record counts
 * from may be gone from the store by the time its request arrives: a running process renews its
 * holds at HOLD_FRACTION, so only one that did not run meanwhile gets here (stopped by the OS, a
 * long pause). Its request takes a new place before it is written (see {@link SharedPlace.stale}),
 * and the old one is not renewed: the store may have dropped it and given it to another process,
 * and recording it again would count 61 in the window. The rest of the window (a fifth, 208 ms)
 * is for the report of a renewal or of a write to reach the store before the place leaves it.
 */
const STALE_FRACTION = 0.8;

/** A place in the fleet's budget, recorded by the store. */
export interface SharedPlace {
  /** The request has been written: it counts from now (a store call unless it was written at once). Idempotent. */
  sent(): void;
  /** The request will not be sent: its place counts from when it was recorded, and no longer held. */
  cancel(): void;
  /**
   * The store may no longer count this place: its process did not run for most of a window since
   * it was recorded or last renewed (STALE_FRACTION). Its request must take another before it is
   * written: a fleet starved workers saw a request taken just before a 1.2 s SIGSTOP written
   * after it, once another process had taken its place (61 arrivals in a rolling second).
   */
  stale(): boolean;
}

interface Waiter {
  /** The id its place is recorded under (a new one when its first place came too late to use). */
  id: string;
  /** Its first place was answered too late to use (see #ask): the next one is used however late. */
  retaken: boolean;
  signal: AbortSignal;
  resolve(place: SharedPlace): void;
  reject(reason: unknown): void;
  onAbort(): void;
}

/**
 * A random name for this process, drawn once: a client's ids add its number, so they stay unique
 * across the fleet without drawing random bytes for each of thousands of clients at start.
 */
const PROCESS_NAME = randomBytes(8).toString('hex');
let budgetsCreated = 0;

/**
 * The fleet's share of the budget: a request goes on once the {@link RateLimitStore} recorded
 * it. A client has one store call in flight at a time, for the first few requests of its line
 * (a fifteenth of the budget: 4 of 60): the store records as many as there are places, and when
 * some are left says when this client should ask again, a time of its own among the clients
 * that wait (see RedisRateLimitStore). Asking for each request separately woke every waiter of
 * every process at each expiry to compete for one place: a fleet of 4 made ~7,000 store calls a
 * second for 60 requests, and the CPU that burned delayed requests past the margin (429s).
 *
 * Each recorded request counts from when it was written: one written within 1 ms of its record
 * needs no report (SKIP_MARK_MAX_MS); the others are reported by the next take (no call of their
 * own) or, when none comes within half a window, by a call for all of them. A store with
 * `reportWritten` (RedisRateLimitStore) takes the reports over: they then ride on the next take of
 * any tenant of that store, which at a request a second per tenant comes long before this
 * tenant's own.
 * One still unwritten is held in the window (HOLD_FRACTION) until it is written.
 *
 * When the store fails the request goes on under the client's own limiter alone: one warning
 * per outage, the store is tried again every second and used again as soon as it answers.
 */
export class SharedBudget {
  readonly #store: RateLimitStore;
  readonly #key: string;
  readonly #limit: number;
  readonly #windowMs: number;
  readonly #skipMarkWithinMs: number;
  /**
   * Waiting requests per call: a whole line at once (60) was a burst that the sandbox, on a busy
   * machine, timestamped tens of ms late (429s); 4 cost ~0.5 calls per request when saturated.
   */
  readonly #batchSize: number;
  readonly #fellBack: (message: string, firstOfOutage: boolean) => void;
  readonly #logger: ServiceTitanLogger;
  /** Ids must be unique across the fleet: the process's random name and this client's number, then a counter. */
  readonly #idPrefix = `${PROCESS_NAME}.${(budgetsCreated += 1).toString(36)}`;
  #counter = 0;
  /** Requests waiting for the store, in order; an aborted one leaves at once. */
  #line: Waiter[] = [];
  #asking = false;
  /** Ends the current sleep early (the line emptied). */
  #wakeEarly: (() => void) | undefined;
  /**
   * Recorded, not yet written: id → when its record counts from (this process's clock: when the
   * call that last set it was made, plus the lead it asked for) and since when it is held.
   */
  readonly #unwritten = new Map<string, { countsFrom: number; since: number }>();
  #holdTimer: NodeJS.Timeout | undefined;
  /** Written requests not yet reported to the store: id → when written. */
  #written = new Map<string, number>();
  #flushTimer: NodeJS.Timeout | undefined;
  #flushAt = Number.POSITIVE_INFINITY;
  #degradedUntil = Number.NEGATIVE_INFINITY;
  #degraded = false;

  constructor(options: {
    store: RateLimitStore;
    key: string;
    limit: number;
    windowMs: number;
    /** `rateLimit.windowMarginMs`: how early a request may count (see SKIP_MARK_MAX_MS). */
    windowMarginMs: number;
    logger: ServiceTitanLogger;
    /** Called on each fallback to the local limiter; `firstOfOutage` once per outage (warn then). */
    fellBack: (message: string, firstOfOutage: boolean) => void;
  }) {
    this.#store = options.store;
    this.#key = options.key;
    this.#limit = options.limit;
    this.#windowMs = options.windowMs;
    this.#skipMarkWithinMs = Math.min(SKIP_MARK_MAX_MS, options.windowMarginMs / 40);
    this.#batchSize = Math.max(1, Math.ceil(options.limit / 15));
    this.#logger = options.logger;
    this.#fellBack = options.fellBack;
  }

  /**
   * Resolves once the store recorded this request (or is failing) with its place: call
   * `sent()` once the request has been written (see {@link RateLimitStore.markSent}). Rejects
   * with the signal's reason on abort.
   */
  take(signal: AbortSignal): Promise<SharedPlace> {
    if (signal.aborted) return Promise.reject(abortReason(signal));
    return new Promise<SharedPlace>((resolve, reject) => {
      const waiter: Waiter = {
        id: this.#newId(),
        retaken: false,
        signal,
        resolve,
        reject,
        onAbort: () => {
          this.#leave(waiter);
          reject(abortReason(signal));
        },
      };
      signal.addEventListener('abort', waiter.onAbort, { once: true });
      this.#line.push(waiter);
      void this.#ask();
    });
  }

  #leave(waiter: Waiter): void {
    const index = this.#line.indexOf(waiter);
    if (index !== -1) this.#line.splice(index, 1);
    waiter.signal.removeEventListener('abort', waiter.onAbort);
    if (this.#line.length === 0) this.#wakeEarly?.();
  }

  /** One call at a time for the whole line, until it is empty. */
  async #ask(): Promise<void> {
    if (this.#asking) return;
    this.#asking = true;
    try {
      while (this.#line.length > 0) {
        if (performance.now() < this.#degradedUntil) {
          for (const waiter of [...this.#line]) {
            this.#leave(waiter);
            waiter.resolve(NOTHING_TO_MARK);
          }
          break;
        }
        const batch = this.#line.slice(0, this.#batchSize);
        const askedAt = performance.now();
        const leadMs = this.#leadMs(askedAt);
        let answer: RateLimitTakeAnswer;
        try {
          answer = await withCommandTimeout(
            'take',
            STORE_CALL_BOUND_MS,
            () =>
              this.#takeFromStore(
                batch.map((waiter) => waiter.id),
                this.#reportWritten(),
                leadMs,
              ),
            'rate-limit store',
          );
        } catch (error) {
          this.#fail(error);
          continue;
        }
        const answeredAt = performance.now();
        recordTakeDelay(askedAt, answeredAt);
        // Answered later than its places' write times are due at the store (the process was not
        // running, or Redis was that slow, before any lateness was seen: no lead): a place may
        // leave the window before its write time can reach Redis, and another process take it.
        // Such places are left recorded (counted for nothing: the safe side) and taken again,
        // with the lead this lateness now sets; once per request, so that a process always late
        // still sends (each request then costs two places, never a loop).
        const late = answeredAt - askedAt - leadMs > this.#windowMs * HOLD_FRACTION;
        if (this.#degraded) {
          this.#degraded = false;
          this.#logger.info?.('rate-limit store answers again: the fleet shares its budget again');
        }
        let retaking = false;
        for (const waiter of batch.slice(0, answer.taken)) {
          // Aborted after the store recorded it: it counts from then (the safe side), unheld.
          if (!this.#line.includes(waiter)) continue;
          if (late && !waiter.retaken) {
            waiter.retaken = true;
            waiter.id = this.#newId();
            retaking = true;
            continue;
          }
          this.#leave(waiter);
          this.#hold(waiter.id, askedAt + leadMs);
          waiter.resolve({
            sent: () => this.#sent(waiter.id),
            cancel: () => this.#unhold(waiter.id),
            stale: () => this.#isStale(waiter.id),
          });
        }
        if (retaking) {
          this.#logger.debug?.('rate-limit store answered too late to use its places: taking them again', {
            lateMs: Math.round(answeredAt - askedAt),
          });
        } else if (answer.taken < batch.length) {
          await this.#sleep(Math.min(Math.ceil(answer.waitMs), 2 * this.#windowMs));
        }
      }
    } finally {
      this.#asking = false;
    }
  }

  /**
   * How far ahead of the store's now a take records its places: twice as late as this process
   * has lately been (see take-delays.ts), at most two windows (a key lives three). Twice: the
   * answer can come one stop late and the report of the write another (a worker stopped 1,200 ms
   * of every 1,500 wrote in one running phase and reported in the next: 2 429s with one lead).
   * 0 on a process that runs when it should: its places count from the take, as exact as before.
   */
  #leadMs(now: number): number {
    const delay = recentTakeDelayMs(now);
    return delay < LEAD_MIN_MS ? 0 : Math.min(Math.ceil(2 * delay), 2 * this.#windowMs);
  }

  async #takeFromStore(ids: string[], written: WrittenRequest[], leadMs: number): Promise<RateLimitTakeAnswer> {
    if (this.#store.takeMany !== undefined) {
      return this.#store.takeMany(this.#key, this.#limit, this.#windowMs, ids, this.#idPrefix, written, leadMs);
    }
    this.#markSent(written);
    const waitMs = await this.#store.take(this.#key, this.#limit, this.#windowMs, ids[0]);
    return waitMs > 0 ? { taken: 0, waitMs } : { taken: 1, waitMs: 0 };
  }

  /** Unique across the fleet: the process's random name, this client's number, a counter. */
  #newId(): string {
    return `${this.#idPrefix}:${(this.#counter += 1)}`;
  }

  #hold(id: string, countsFrom: number): void {
    this.#unwritten.set(id, { countsFrom, since: performance.now() });
    if (this.#holdTimer === undefined) {
      this.#holdTimer = setInterval(() => this.#renewHolds(), this.#windowMs / 4);
      // Not pending work of its own: the request it holds is (its socket, its caller).
      this.#holdTimer.unref();
    }
  }

  #unhold(id: string): void {
    this.#unwritten.delete(id);
    if (this.#unwritten.size === 0 && this.#holdTimer !== undefined) {
      clearInterval(this.#holdTimer);
      this.#holdTimer = undefined;
    }
  }

  /** See STALE_FRACTION. A record with a lead (counting from a time to come) is never stale. */
  #isStale(id: string): boolean {
    const hold = this.#unwritten.get(id);
    return hold !== undefined && this.#staleAt(hold, performance.now());
  }

  #staleAt(hold: { countsFrom: number }, now: number): boolean {
    return now - hold.countsFrom > this.#windowMs * STALE_FRACTION;
  }

  #renewHolds(): void {
    const now = performance.now();
    for (const [id, hold] of this.#unwritten) {
      if (now - hold.since > MAX_HOLD_MS) this.#unhold(id);
      // Stale: not renewed (see STALE_FRACTION); its request takes a new place before it is written.
      else if (this.#staleAt(hold, now)) continue;
      else if (now - hold.countsFrom > this.#windowMs * HOLD_FRACTION) {
        // Re-recorded as if written as late as this process has lately been (the lead).
        hold.countsFrom = now + this.#leadMs(now);
        this.#queueWritten(id, hold.countsFrom, now);
      }
    }
  }

  #sent(id: string): void {
    const hold = this.#unwritten.get(id);
    if (hold === undefined) return;
    this.#unhold(id);
    const now = performance.now();
    // Reported when written later than its record counts from (it must count from its write), or
    // earlier (a lead: its place frees sooner once the store knows). Due half a window on, less
    // as much as this process has lately been late (it may be stopped that long before it sends
    // it): at once on a process late by half a window, not sooner on one that runs when it should
    // (its report then rides on a take: a call of its own per report doubled the calls).
    if (Math.abs(now - hold.countsFrom) > this.#skipMarkWithinMs) {
      const halfWindow = this.#windowMs * HOLD_FRACTION;
      const dueAt = Math.min(hold.countsFrom + halfWindow, now + Math.max(0, halfWindow - recentTakeDelayMs(now)));
      this.#queueWritten(id, now, dueAt);
    }
  }

  /**
   * Reports `id` as written at `writtenAt` with the next take, or on its own by `dueAt`; a store
   * that batches the reports of all its tenants (RedisRateLimitStore) takes it over.
   */
  #queueWritten(id: string, writtenAt: number, dueAt: number): void {
    if (this.#store.reportWritten !== undefined) {
      this.#store.reportWritten(this.#key, id, writtenAt, dueAt, this.#windowMs);
      return;
    }
    this.#written.set(id, writtenAt);
    if (dueAt >= this.#flushAt) return;
    clearTimeout(this.#flushTimer);
    this.#flushAt = dueAt;
    this.#flushTimer = setTimeout(() => this.#markSent(this.#reportWritten()), Math.max(0, dueAt - performance.now()));
    // Not pending work: a process that ends needs no record of what it sent.
    this.#flushTimer.unref();
  }

  /** The written requests to report now (and no flush pending any more). */
  #reportWritten(): WrittenRequest[] {
    clearTimeout(this.#flushTimer);
    this.#flushTimer = undefined;
    this.#flushAt = Number.POSITIVE_INFINITY;
    if (this.#written.size === 0) return [];
    const now = performance.now();
    const written = [...this.#written].map(([id, at]) => ({ id, agoMs: now - at }));
    this.#written.clear();
    return written;
  }

  #markSent(written: WrittenRequest[]): void {
    if (written.length === 0) return;
    // Best effort: if it fails, each request counts from when it was recorded, a little early.
    const store = this.#store;
    const marked =
      store.markSentMany !== undefined
        ? store.markSentMany(this.#key, written, this.#windowMs)
        : Promise.all(written.map(({ id }) => store.markSent?.(this.#key, id)));
    marked.catch(() => undefined);
  }

  /** Sleeps `ms`, or less once the line is empty (every waiter aborted). */
  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#wakeEarly = undefined;
        resolve();
      };
      // Not unref'd: a request waiting here is pending work (see SendTimeWindow); cleared as
      // soon as nobody waits.
      const timer = setTimeout(done, ms);
      this.#wakeEarly = done;
    });
  }

  #fail(error: unknown): void {
    this.#degradedUntil = performance.now() + STORE_RETRY_INTERVAL_MS;
    const firstOfOutage = !this.#degraded;
    this.#degraded = true;
    const reason = error instanceof Error ? error.message : String(error);
    this.#fellBack(
      `rate-limit store failed (${reason}); this client now limits itself alone, without the fleet's budget, until the store answers again`,
      firstOfOutage,
    );
  }
}

const NOTHING_TO_MARK: SharedPlace = { sent: () => undefined, cancel: () => undefined, stale: () => false };
