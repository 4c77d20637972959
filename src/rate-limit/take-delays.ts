/**
 * How late this process has lately been: the slowest recent store take, from the moment a client
 * asked until it went on with the answer. Its Redis round trip is a fraction of a ms; what makes
 * it hundreds is the process not running (an oversubscribed machine's scheduler, a long GC
 * pause, a blocked event loop), and whatever delayed the answer delays what follows it too: the
 * request's write and the report of its write time.
 *
 * Why the fleet needs it: a place counts at Redis from the take, until the client reports when
 * its request was written. A starved process reports late, and a place that left the window
 * meanwhile was taken again by another process while this one's request reached the server
 * later: bench:fleet, 8 workers × 1,000 tenants on 2 cores, saw 84 arrivals in a rolling second
 * with event-loop delays of ~600 ms and no store failure. So a take records its places this much
 * in the future (see SharedBudget): they count as long as a request this late may still arrive,
 * and the report of the real write time, when it comes, moves each to when it was written.
 *
 * Per process, not per client: the scheduler and the event loop are the process's. Two buckets
 * of BUCKET_MS: a delay counts for one to two buckets after it was seen, so a starved process
 * stays careful while it is starved, and one that recovered goes back to exact counts within
 * seconds.
 */
const BUCKET_MS = 5_000;

let bucketStartedAt = Number.NEGATIVE_INFINITY;
let current = 0;
let previous = 0;

function roll(now: number): void {
  if (now - bucketStartedAt < BUCKET_MS) return;
  // A bucket with nothing seen since the previous one ended is as good as empty.
  previous = now - bucketStartedAt < 2 * BUCKET_MS ? current : 0;
  current = 0;
  bucketStartedAt = now;
}

/** A take asked at `askedAt` has been answered and the client goes on now (`performance.now()`). */
export function recordTakeDelay(askedAt: number, now: number): void {
  roll(now);
  current = Math.max(current, now - askedAt);
}

/** The slowest take seen in the last 5 to 10 s, in ms (0 when none was seen). */
export function recentTakeDelayMs(now: number): number {
  roll(now);
  return Math.max(current, previous);
}
