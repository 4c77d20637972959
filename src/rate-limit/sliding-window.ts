import { abortReason } from '../abort';

/** A place in a {@link SendTimeWindow}, taken before the request is sent. */
export interface WindowSlot {
  /** The request is being sent now: the slot counts from this moment until it leaves the window. */
  commit(): void;
  /** The request will not be sent (aborted, timed out, refused further on): the slot is freed. */
  cancel(): void;
}

interface Waiter {
  resolve(slot: WindowSlot): void;
  reject(reason: unknown): void;
  signal: AbortSignal | undefined;
  onAbort: () => void;
}

/**
 * At most `limit` requests sent in any window of `windowMs`, counted by when they are sent (a
 * log of send times), so the budget is reached whatever the latency: a request that is still
 * waiting for its answer does not hold a place once its send time has left the window.
 *
 * A place is reserved first and its time set when the request is actually sent
 * ({@link WindowSlot.commit}): a reserved place counts and cannot expire, so a request that waits
 * for other limits after this one never makes the window undercount. Waiters are served in
 * order; an aborted waiter leaves at once. {@link SendTimeWindow.pauseUntil} holds every waiter
 * back (a 429's `Retry-After`). The one timer exists only while a request waits (it is cleared
 * when the last waiter leaves), and it is not unref'd on purpose: a program awaiting a queued
 * request must not exit under it (Node ends a process whose only pending work is an unref'd
 * timer), while nothing is left running once no request waits.
 */
export class SendTimeWindow {
  readonly #limit: number;
  readonly #windowMs: number;
  readonly #clock: () => number;
  /**
   * Send times, oldest first (the clock is monotonic); those before `#head` have left the window.
   * A head index rather than a copy or a splice per expiry: that is O(limit) per request, which a
   * high limit makes the limiter's largest cost (issue 18 item 6). Compacted once half is stale.
   */
  #sent: number[] = [];
  #head = 0;
  #reserved = 0;
  #waiters: Waiter[] = [];
  #pausedUntil = Number.NEGATIVE_INFINITY;
  #timer: NodeJS.Timeout | undefined;
  #immediate: NodeJS.Immediate | undefined;
  #timerAt = Number.POSITIVE_INFINITY;

  constructor(limit: number, windowMs: number, clock: () => number = () => performance.now()) {
    this.#limit = limit;
    this.#windowMs = windowMs;
    this.#clock = clock;
  }

  /** Requests waiting for a place. */
  get waiting(): number {
    return this.#waiters.length;
  }

  /** Resolves with a reserved place, in order of arrival; rejects with the signal's reason on abort. */
  reserve(signal?: AbortSignal): Promise<WindowSlot> {
    if (signal?.aborted) return Promise.reject(abortReason(signal));
    const now = this.tryReserve();
    if (now !== undefined) return Promise.resolve(now);
    return new Promise<WindowSlot>((resolve, reject) => {
      const waiter: Waiter = {
        resolve,
        reject,
        signal,
        onAbort: () => {
          this.#waiters = this.#waiters.filter((w) => w !== waiter);
          reject(abortReason(signal!));
          this.#drain();
        },
      };
      signal?.addEventListener('abort', waiter.onAbort, { once: true });
      this.#waiters.push(waiter);
      this.#schedule();
    });
  }

  /**
   * A place now, synchronously, when one is free and nobody waits (the common case, without a
   * promise or a turn of the event loop); `undefined` otherwise: then {@link reserve} waits in line.
   */
  tryReserve(): WindowSlot | undefined {
    return this.#waiters.length === 0 && this.#hasRoom(this.#clock()) ? this.#take() : undefined;
  }

  /** No place is given out before `at` (on this window's clock); a later pause wins. */
  pauseUntil(at: number): void {
    if (at <= this.#pausedUntil) return;
    this.#pausedUntil = at;
    this.#schedule();
  }

  /** The clock this window reads (ms, monotonic by default). */
  now(): number {
    return this.#clock();
  }

  #take(): WindowSlot {
    this.#reserved += 1;
    return new ReservedSlot(this);
  }

  /** For {@link ReservedSlot} only, once per slot: the reserved place counts from now. */
  commitReserved(): void {
    this.#reserved -= 1;
    this.#sent.push(this.#clock());
    this.#schedule();
  }

  /** For {@link ReservedSlot} only, once per slot: the reserved place is free again. */
  cancelReserved(): void {
    this.#reserved -= 1;
    this.#drain();
  }

  #hasRoom(now: number): boolean {
    if (now < this.#pausedUntil) return false;
    const sent = this.#sent;
    let head = this.#head;
    while (head < sent.length && now - sent[head]! >= this.#windowMs) head += 1;
    if (head > 32 && head * 2 > sent.length) {
      sent.splice(0, head);
      head = 0;
    }
    this.#head = head;
    return this.#inWindow() + this.#reserved < this.#limit;
  }

  /**
   * Lets one waiter through per turn of the event loop: the request it lets through is written
   * (and its send time taken) before the next one goes, so places that free up together (a
   * burst's) do not send a burst again whose send times all lag behind by the burst's own
   * processing time; each request's place counts from when it really left.
   */
  #drain(): void {
    if (this.#waiters.length > 0 && this.#hasRoom(this.#clock())) {
      const waiter = this.#waiters.shift()!;
      waiter.signal?.removeEventListener('abort', waiter.onAbort);
      waiter.resolve(this.#take());
      if (this.#waiters.length > 0 && this.#immediate === undefined) {
        this.#immediate = setImmediate(() => {
          this.#immediate = undefined;
          this.#drain();
        });
      }
    }
    this.#schedule();
  }

  /** One timer, for the moment the first waiter can next get a place (a pause's end or an expiry). */
  #schedule(): void {
    if (this.#waiters.length === 0) {
      this.#clearTimer();
      return;
    }
    const now = this.#clock();
    const at = this.#nextPlaceAt(now);
    if (at === undefined) {
      this.#clearTimer();
      return;
    }
    if (this.#timer !== undefined && this.#timerAt <= at) return;
    this.#clearTimer();
    this.#timerAt = at;
    this.#timer = setTimeout(
      () => {
        this.#timer = undefined;
        this.#timerAt = Number.POSITIVE_INFINITY;
        this.#drain();
      },
      Math.max(0, Math.ceil(at - now)),
    );
  }

  /** When a place may free up: a pause's end or the expiry that makes room; undefined: only a cancel can. */
  #nextPlaceAt(now: number): number | undefined {
    if (now < this.#pausedUntil) return this.#pausedUntil;
    // Reserved places never expire; they free up only when cancelled.
    const inWindow = this.#inWindow();
    const mustExpire = inWindow + this.#reserved - this.#limit + 1;
    if (mustExpire > inWindow) return undefined;
    return mustExpire <= 0 ? now : this.#sent[this.#head + mustExpire - 1]! + this.#windowMs;
  }

  /** Send times not yet known to have left the window (those before `#head` have). */
  #inWindow(): number {
    return this.#sent.length - this.#head;
  }

  #clearTimer(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerAt = Number.POSITIVE_INFINITY;
  }
}

/** A place reserved in a {@link SendTimeWindow}; settled once (a class: one object per request, no closures). */
class ReservedSlot implements WindowSlot {
  readonly #window: SendTimeWindow;
  #settled = false;

  constructor(window: SendTimeWindow) {
    this.#window = window;
  }

  commit(): void {
    if (this.#settled) return;
    this.#settled = true;
    this.#window.commitReserved();
  }

  cancel(): void {
    if (this.#settled) return;
    this.#settled = true;
    this.#window.cancelReserved();
  }
}
