import { randomBytes } from 'node:crypto';
import PQueue from 'p-queue';
import type { ServiceTitanLogger } from '../logging/logger';
import { abortReason } from '../abort';
import { withCommandTimeout } from '../stores/command-timeout';
import type { RateLimitStore } from './store';

/** While the store is failing, it is tried again at most this often (each try may take its command timeout). */
const STORE_RETRY_INTERVAL_MS = 1000;
/** A store call that takes longer than this counts as a failure (RedisRateLimitStore bounds its own, lower). */
const STORE_CALL_BOUND_MS = 2000;

/**
 * The fleet's share of the budget: a request goes on once the {@link RateLimitStore} recorded
 * it. A client asks the store for one request at a time, in order: the first waiter asks, and
 * when refused sleeps until the store says a place frees, then asks again, while the requests
 * behind it wait their turn here. Asking for all of them at once (up to `requestsPerSecond` per
 * client) would wake every waiter of every process at each expiry to compete for one place: a
 * fleet of 4 made ~7,000 store calls a second for 60 requests, and the CPU that burned on a
 * small host delayed requests on their way to the server by more than the window's margin
 * (429s). Now a place that frees costs one call per waiting client. When the store fails the request goes on
 * under the client's own limiter alone: one warning per outage, the store is tried again every
 * second and used again as soon as it answers.
 */
export class SharedBudget {
  readonly #store: RateLimitStore;
  readonly #key: string;
  readonly #limit: number;
  readonly #windowMs: number;
  readonly #fellBack: (message: string, firstOfOutage: boolean) => void;
  readonly #logger: ServiceTitanLogger;
  /** Ids must be unique across the fleet: a random name for this client, then a counter. */
  readonly #idPrefix = randomBytes(8).toString('hex');
  #counter = 0;
  /** One store request in flight at a time (see above); an aborted waiter leaves the line at once. */
  readonly #turns = new PQueue({ concurrency: 1 });
  #degradedUntil = Number.NEGATIVE_INFINITY;
  #degraded = false;

  constructor(options: {
    store: RateLimitStore;
    key: string;
    limit: number;
    windowMs: number;
    logger: ServiceTitanLogger;
    /** Called on each fallback to the local limiter; `firstOfOutage` once per outage (warn then). */
    fellBack: (message: string, firstOfOutage: boolean) => void;
  }) {
    this.#store = options.store;
    this.#key = options.key;
    this.#limit = options.limit;
    this.#windowMs = options.windowMs;
    this.#logger = options.logger;
    this.#fellBack = options.fellBack;
  }

  /**
   * Resolves once the store recorded this request (or is failing) with a function to call once
   * the request has been written (see {@link RateLimitStore.markSent}); rejects with the
   * signal's reason on abort.
   */
  take(signal: AbortSignal): Promise<() => void> {
    return this.#turns.add(() => this.#takeInTurn(signal), { signal });
  }

  async #takeInTurn(signal: AbortSignal): Promise<() => void> {
    const id = `${this.#idPrefix}:${(this.#counter += 1)}`;
    for (;;) {
      if (signal.aborted) throw abortReason(signal);
      if (performance.now() < this.#degradedUntil) return NOTHING_TO_MARK;
      let waitMs: number;
      try {
        waitMs = await withCommandTimeout(
          'take',
          STORE_CALL_BOUND_MS,
          () => this.#store.take(this.#key, this.#limit, this.#windowMs, id),
          'rate-limit store',
        );
      } catch (error) {
        this.#fail(error);
        return NOTHING_TO_MARK;
      }
      if (this.#degraded) {
        this.#degraded = false;
        this.#logger.info?.('rate-limit store answers again: the fleet shares its budget again');
      }
      if (!(waitMs > 0)) return () => this.#markSent(id);
      await sleep(Math.min(Math.ceil(waitMs), this.#windowMs), signal);
    }
  }

  #markSent(id: string): void {
    // Best effort: if it fails, the request counts from when it was recorded, a few ms early.
    this.#store.markSent?.(this.#key, id).catch(() => undefined);
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

const NOTHING_TO_MARK = (): void => undefined;

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(abortReason(signal));
    };
    // Not unref'd: a request waiting here is pending work (see SendTimeWindow).
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
