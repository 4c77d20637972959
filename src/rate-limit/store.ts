/**
 * Where a fleet of processes keeps the send times of one shared rate-limit budget. One call per
 * request, atomic: the store records the request if fewer than `limit` were recorded in the last
 * `windowMs`, and otherwise says how long until one leaves the window.
 *
 * @example
 * import { RedisRateLimitStore } from 'axios-servicetitan-auth/redis';
 * const client = createServiceTitanClient({ ...options, rateLimit: { store: new RedisRateLimitStore(redis) } });
 */
export interface RateLimitStore {
  /**
   * Records one request under `key` when fewer than `limit` were recorded in the last
   * `windowMs` and resolves `0`; otherwise records nothing and resolves the milliseconds until
   * the oldest recorded request leaves the window (> 0). Rejects when the store is unreachable:
   * the client then falls back to its own limiter.
   */
  take(key: string, limit: number, windowMs: number, id?: string): Promise<number>;
  /**
   * Optional: moves the time of the request recorded under `id` by {@link take} to now, called
   * once the request has been written. A process busy with a burst can send a request tens of
   * ms after the store recorded it; counting from the real send time keeps the fleet's window
   * from letting the next burst overlap this one's stragglers at the server. Failures are ignored.
   */
  markSent?(key: string, id: string): Promise<void>;
  /**
   * Optional, preferred to {@link take} when present: one call for a line of waiting requests.
   * First records `written` as {@link markSentMany} does (requests written since the client's
   * last call ride along: no call of their own), then records as many of `ids` (oldest first) as
   * there are free places under `key` and resolves how many (`taken`, the first ones); when some
   * are left, resolves `waitMs` > 0, when `client` (a name for the asking client) should ask
   * again: a store that knows how many clients wait can give each its own time, so they do not
   * all come back at once. `leadMs` (0 to 2 × `windowMs`): record the ids as sent that long after
   * now, not now: the asking process has lately been that late (starved of CPU), and its write
   * times may reach the store that late; a store that ignores it counts them from now.
   */
  takeMany?(
    key: string,
    limit: number,
    windowMs: number,
    ids: readonly string[],
    client: string,
    written?: readonly WrittenRequest[],
    leadMs?: number,
  ): Promise<RateLimitTakeAnswer>;
  /**
   * Optional, preferred to {@link markSent} when present: several requests written, one call;
   * each counts from `agoMs` before the store's now (never earlier). `windowMs` is the window
   * they count in (a store keeps them at least that long from now).
   */
  markSentMany?(key: string, written: readonly WrittenRequest[], windowMs: number): Promise<void>;
  /**
   * Optional, preferred to the two above when present: the request `id` recorded under `key` was
   * written at `writtenAt` (this process's `performance.now()`); the store records it by `dueAt`
   * (same clock), with any call it makes meanwhile that can carry it (a take for another tenant:
   * at low rates per tenant a report then costs no call of its own) or with a call of its own.
   * Never throws; failures are ignored (the request then counts from when it was recorded).
   */
  reportWritten?(key: string, id: string, writtenAt: number, dueAt: number, windowMs: number): void;
}

/**
 * A request recorded by {@link RateLimitStore.take}, written `agoMs` before the call that reports
 * it; negative for one still unwritten, to count from that long after the call (at most two windows).
 */
export interface WrittenRequest {
  id: string;
  agoMs: number;
}

/** What {@link RateLimitStore.takeMany} answers. */
export interface RateLimitTakeAnswer {
  /** How many of the ids were recorded (the first ones). */
  taken: number;
  /** When none was: the milliseconds until this client should ask again (> 0); else 0. */
  waitMs: number;
}
