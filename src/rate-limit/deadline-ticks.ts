import { setMaxListeners } from 'node:events';

/**
 * Deadlines in ticks: requests whose deadlines fall in the same tick of {@link DEADLINE_TICK_MS}
 * share one signal, aborted when the tick ends, and its one timer. An `AbortSignal` costs ~5 µs to
 * create on Node 20 (as much as the rest of the client's own work per request) and a timer each
 * adds to that: one per tick, not one per request (issue 18 item 6). A tick lives while a request
 * waits on it; the last to leave clears its timer.
 */

/** A request times out at most this long after its deadline, never before. */
export const DEADLINE_TICK_MS = 10;

/** The signal of one tick's deadlines, the timer that aborts it, and how many requests wait on it. */
export interface DeadlineTick {
  readonly key: number;
  readonly controller: AbortController;
  readonly timer: NodeJS.Timeout;
  members: number;
}

/** Live ticks by key (their end divided by {@link DEADLINE_TICK_MS}); a tick leaves once it fired or has no member. */
const ticks = new Map<number, DeadlineTick>();

/**
 * The ticks alive now (internal, not exported by the package): what tests inspect to see that a
 * tick ends with no listener and is dropped once its last request leaves.
 */
export function liveTicks(): DeadlineTick[] {
  return [...ticks.values()];
}

/** Joins the tick `deadlineAt` falls in (on the `performance.now()` clock), creating it if need be. */
export function joinTick(deadlineAt: number, now: number): DeadlineTick {
  const key = Math.ceil(deadlineAt / DEADLINE_TICK_MS);
  let tick = ticks.get(key);
  if (tick === undefined) {
    const controller = new AbortController();
    // Every request of the tick (and the adapter of each) listens: no leak warning at 11.
    setMaxListeners(0, controller.signal);
    const timer = setTimeout(
      () => {
        if (ticks.get(key) === tick) ticks.delete(key);
        controller.abort(new DOMException('The request ran out of time', 'TimeoutError'));
      },
      Math.ceil(key * DEADLINE_TICK_MS - now),
    );
    // The exchange, not its deadline, keeps the process alive (as axios's own timeout does not).
    timer.unref();
    tick = { key, controller, timer, members: 0 };
    ticks.set(key, tick);
  }
  tick.members += 1;
  return tick;
}

/** Leaves a tick joined with {@link joinTick}: once, when the request no longer waits on its signal. */
export function leaveTick(tick: DeadlineTick): void {
  tick.members -= 1;
  if (tick.members > 0) return;
  clearTimeout(tick.timer);
  if (ticks.get(tick.key) === tick) ticks.delete(tick.key);
}
