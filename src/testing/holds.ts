import type { RequestContext } from './http';
import type { Hold, SandboxRequestRecord, UntilWaitingOptions } from './types';

/** Default of `untilWaiting`'s `timeoutMs`: far above any local round trip, short enough to notice. */
export const DEFAULT_UNTIL_WAITING_TIMEOUT_MS = 5_000;

interface WaitingCount {
  count: number;
  resolve: () => void;
  reject: (error: Error) => void;
}

/** A hold: matching requests wait in flight until `release()`. */
export class RequestHold implements Hold {
  readonly #match: ((request: SandboxRequestRecord) => boolean) | undefined;
  readonly #waiting = new Set<() => void>();
  readonly #countWaiters = new Set<WaitingCount>();
  #active = true;

  constructor(match?: (request: SandboxRequestRecord) => boolean) {
    this.#match = match;
  }

  get waiting(): number {
    return this.#waiting.size;
  }

  get active(): boolean {
    return this.#active;
  }

  matches(record: SandboxRequestRecord): boolean {
    return this.#active && (this.#match?.(record) ?? true);
  }

  untilWaiting(count: number, options: UntilWaitingOptions = {}): Promise<void> {
    const timeoutMs = options.timeoutMs ?? DEFAULT_UNTIL_WAITING_TIMEOUT_MS;
    if (!Number.isInteger(count) || count < 0) {
      return Promise.reject(new TypeError(`untilWaiting: count must be a non-negative integer, got ${count}`));
    }
    if (!(Number.isFinite(timeoutMs) && timeoutMs >= 0)) {
      return Promise.reject(new TypeError(`untilWaiting: timeoutMs must be a finite number ≥ 0, got ${timeoutMs}`));
    }
    if (this.#waiting.size >= count) return Promise.resolve();
    if (!this.#active) {
      return Promise.reject(new Error(`hold released before ${count} requests were waiting`));
    }
    return new Promise((resolve, reject) => {
      const waiter: WaitingCount = {
        count,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      };
      const timer = setTimeout(() => {
        this.#countWaiters.delete(waiter);
        reject(
          new Error(
            `untilWaiting(${count}) timed out after ${timeoutMs} ms with ${this.#waiting.size} request(s) waiting: ` +
              'start the requests before waiting for them',
          ),
        );
      }, timeoutMs);
      this.#countWaiters.add(waiter);
    });
  }

  release(): void {
    this.end(`hold released before the expected number of requests were waiting`);
  }

  /** Ends the hold: waiting requests go on, pending `untilWaiting` calls reject with `reason`. */
  end(reason: string): void {
    if (!this.#active) return;
    this.#active = false;
    for (const proceed of [...this.#waiting]) proceed();
    for (const waiter of this.#countWaiters) waiter.reject(new Error(reason));
    this.#countWaiters.clear();
  }

  /** Parks a request until the hold ends or its client goes away. */
  wait(ctx: RequestContext): Promise<void> {
    return new Promise((resolve) => {
      const proceed = (): void => {
        this.#waiting.delete(proceed);
        ctx.res.off('close', proceed);
        resolve();
      };
      this.#waiting.add(proceed);
      ctx.res.once('close', proceed);
      this.#notify();
    });
  }

  #notify(): void {
    for (const waiter of this.#countWaiters) {
      if (this.#waiting.size >= waiter.count) {
        this.#countWaiters.delete(waiter);
        waiter.resolve();
      }
    }
  }
}

/** The holds of one endpoint. */
export class HoldList {
  #holds: RequestHold[] = [];

  add(match?: (request: SandboxRequestRecord) => boolean): Hold {
    const hold = new RequestHold(match);
    this.#holds.push(hold);
    return hold;
  }

  /** Waits while an active hold matches the request (a new hold may catch it again). */
  async pass(ctx: RequestContext): Promise<void> {
    for (;;) {
      this.#holds = this.#holds.filter((h) => h.active);
      const hold = this.#holds.find((h) => h.matches(ctx.record));
      if (!hold || ctx.gone) return;
      await hold.wait(ctx);
    }
  }

  /** Ends every hold, as the sandbox closes. */
  endAll(): void {
    for (const hold of this.#holds) hold.end('sandbox closed');
    this.#holds = [];
  }
}
