/** When a process's event loop ran late: `at` (ms since `startedAt`) and how late (ms). */
export type LateTick = [at: number, lateMs: number];

/**
 * Evidence for an overrun at a server: notes each time its own event loop ran late, a 10 ms timer
 * that ran more than 5 ms after it was due. Arrivals stamped then may be stamped that much late,
 * packed into a later second. `startedAt` (a `Date.now()`) puts `at` on the request log's clock
 * (ms since the sandbox started, give or take the ms between). The timer is unref'd.
 */
export function watchLateTicks(startedAt: number): { readonly ticks: LateTick[] } {
  const watch = { ticks: [] as LateTick[] };
  let tickDue = performance.now() + 10;
  setInterval(() => {
    const now = performance.now();
    if (now - tickDue > 5) watch.ticks.push([Date.now() - startedAt, Math.round(now - tickDue)]);
    tickDue = now + 10;
  }, 10).unref();
  return watch;
}

/** The late ticks noted within `withinMs` up to `at`: the lateness that may have delayed a stamp at `at`. */
export function lateTicksBefore(ticks: readonly LateTick[], at: number, withinMs = 1_000): LateTick[] {
  return ticks.filter(([lateAt]) => lateAt <= at && lateAt > at - withinMs);
}
