import { setMaxListeners } from 'node:events';
import { afterArrivedIo } from '../after-arrived-io';

/**
 * Deadlines in ticks: requests whose deadlines fall in the same tick of {@link DEADLINE_TICK_MS}
 * share one signal, aborted when the tick ends. An `AbortSignal` costs ~5 µs to create on Node 20
 * (as much as the rest of the client's own work per request): one per tick, not one per request
 * (issue 18 item 6). A tick lives while a request waits on it.
 *
 * One timer for all ticks, armed for the earliest tick that may still be live, not one per tick:
 * over the network a timer set and cleared per tick cost the client ~0.1× of bare axios's CPU
 * per request (docs/performance.md, "The client's own path"). Deadlines mostly come later than
 * the armed one (the same `timeout`, a later start), which leaves the timer alone; a tick that
 * ends with no member is forgotten and the timer, when it fires, finds it gone and arms for the
 * next live tick.
 *
 * A tick's signal takes at most {@link MAX_TICK_MEMBERS} requests; more whose deadlines fall in
 * the same tick get another signal of it. Node's `EventTarget` walks a signal's whole listener
 * list to add a listener (the duplicate check) and to remove one: with every request of a burst
 * on one signal (a cold start makes all its requests within one tick), that is quadratic. 2,000
 * tenants' first requests on one signal spent ~0.17 s of the main thread in `addEventListener`
 * and `removeEventListener` (docs/performance.md, "Cold start").
 */

/** A request times out at most this long after its deadline, never before. */
export const DEADLINE_TICK_MS = 10;

/** The signal of one tick's deadlines and how many requests wait on it. */
export interface DeadlineTick {
  readonly key: number;
  readonly controller: AbortController;
  members: number;
}

/**
 * How many requests wait on one signal at most. Each listens once or twice (the library's wait,
 * the adapter's exchange), so a listener list stays under ~64 entries, walked in ~1 µs; a
 * controller more per 32 requests costs ~0.2 µs each.
 */
export const MAX_TICK_MEMBERS = 32;

/**
 * Live ticks by key (their end divided by {@link DEADLINE_TICK_MS}), in the order they were made:
 * requests join the last one. A tick leaves once it fired or has no member.
 */
const ticks = new Map<number, DeadlineTick[]>();

/**
 * The ticks alive now (internal, not exported by the package): what tests inspect to see that a
 * tick ends with no listener and is dropped once its last request leaves.
 */
export function liveTicks(): DeadlineTick[] {
  return [...ticks.values()].flat();
}

/** The timer and the key of the tick it is armed for (Infinity: not armed). */
let timer: NodeJS.Timeout | undefined;
let armedKey = Number.POSITIVE_INFINITY;

/** Joins the tick `deadlineAt` falls in (on the `performance.now()` clock), creating it if need be. */
export function joinTick(deadlineAt: number, now: number): DeadlineTick {
  const key = Math.ceil(deadlineAt / DEADLINE_TICK_MS);
  let ofKey = ticks.get(key);
  let tick = ofKey?.at(-1);
  if (tick === undefined || tick.members >= MAX_TICK_MEMBERS) {
    const controller = new AbortController();
    // Every request of the tick (and the adapter of each) listens: no leak warning at 11.
    setMaxListeners(0, controller.signal);
    tick = { key, controller, members: 0 };
    if (ofKey === undefined) ticks.set(key, (ofKey = []));
    ofKey.push(tick);
    if (key < armedKey) arm(key, now);
  }
  tick.members += 1;
  return tick;
}

/** Leaves a tick joined with {@link joinTick}: once, when the request no longer waits on its signal. */
export function leaveTick(tick: DeadlineTick): void {
  tick.members -= 1;
  if (tick.members > 0) return;
  // The timer stays armed: clearing and setting one per tick is the cost this module avoids.
  // Not there once the tick fired (a later tick of the same key is another's).
  const ofKey = ticks.get(tick.key) ?? [];
  const at = ofKey.indexOf(tick);
  if (at < 0) return;
  ofKey.splice(at, 1);
  if (ofKey.length === 0) ticks.delete(tick.key);
}

function arm(key: number, now: number): void {
  if (timer !== undefined) clearTimeout(timer);
  armedKey = key;
  timer = setTimeout(fire, Math.max(0, Math.ceil(key * DEADLINE_TICK_MS - now)));
  // The exchange, not its deadline, keeps the process alive (as axios's own timeout does not).
  timer.unref();
}

/**
 * Ends every tick whose end has come (never one before it), then arms for the earliest left.
 * The aborts come once the I/O that arrived meanwhile is read (see after-arrived-io.ts): an
 * answer that came in time is not thrown away because the process was not running to read it.
 */
function fire(): void {
  timer = undefined;
  armedKey = Number.POSITIVE_INFINITY;
  const now = performance.now();
  let next = Number.POSITIVE_INFINITY;
  const ended: DeadlineTick[] = [];
  for (const [key, ofKey] of ticks) {
    if (key * DEADLINE_TICK_MS <= now) {
      ticks.delete(key);
      ended.push(...ofKey);
    } else if (key < next) {
      next = key;
    }
  }
  if (ended.length > 0) afterArrivedIo(abortAll, ended);
  if (next !== Number.POSITIVE_INFINITY) arm(next, now);
}

function abortAll(ended: readonly DeadlineTick[]): void {
  for (const tick of ended) tick.controller.abort(new DOMException('The request ran out of time', 'TimeoutError'));
}
