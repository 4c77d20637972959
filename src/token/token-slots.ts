import pLimit, { type LimitFunction } from 'p-limit';

/**
 * The token limiter bounds requests at the token endpoint (ServiceTitan throttles it). The store
 * work around a fetch (reading the store, taking the fleet lock) is not such a request, so it
 * runs ahead of the limiter, in a gate of the same width: while `n` fetches are at the endpoint,
 * the next `n` tenants read the store and take their locks, and a slot that frees goes straight
 * to a fetch. Done inside the slot, each fetch waited for a store round trip before its token
 * request, a turn of the event loop on the critical path of a cold start (issue 18 item 3).
 *
 * A tenant keeps its place in the gate until its fetch holds a slot, so at most `n` tenants hold
 * a fleet lock while they wait for a slot, each for at most about one fetch of another tenant:
 * the lock is not held through a long queue, and the store is read at most that long before the
 * fetch it decides on.
 */
const gates = new WeakMap<LimitFunction, LimitFunction>();

/** The gate in front of `limiter`: as wide as the limiter (1 for a limiter that does not say). */
export function storeGateFor(limiter: LimitFunction): LimitFunction {
  const width = validWidth((limiter as Partial<LimitFunction>).concurrency);
  let gate = gates.get(limiter);
  if (gate === undefined) {
    gate = pLimit(width);
    gates.set(limiter, gate);
  } else if (gate.concurrency !== width) {
    // p-limit's concurrency can be changed while in use: the gate follows.
    gate.concurrency = width;
  }
  return gate;
}

function validWidth(concurrency: unknown): number {
  return typeof concurrency === 'number' && concurrency >= 1 ? Math.min(concurrency, MAX_GATE_WIDTH) : 1;
}

/** An `Infinity` limiter needs no pipelining, but its gate must stay a real bound. */
const MAX_GATE_WIDTH = 1_024;

/** A task queued in the token limiter: `started` settles once it runs (or the limiter failed it). */
export interface SlotEntry<T> {
  started: Promise<void>;
  done: Promise<T>;
}

/**
 * Queues `task` in `limiter`. `started` resolves when the task starts, or rejects with the
 * limiter's error if it never does (then `onNeverRan` runs: what the task would have cleaned up).
 */
export function enterSlot<T>(limiter: LimitFunction, task: () => Promise<T>, onNeverRan: () => void): SlotEntry<T> {
  let ran = false;
  let markStarted!: () => void;
  const startedSignal = new Promise<void>((resolve) => (markStarted = resolve));
  const done = limiter(() => {
    ran = true;
    markStarted();
    return task();
  });
  const neverRan = done.then(
    () => undefined,
    (error: unknown) => {
      if (ran) return;
      onNeverRan();
      throw error;
    },
  );
  // The caller awaits `done` after `started`; a failure seen first through `started` is not unhandled.
  done.catch(() => undefined);
  return { started: Promise.race([startedSignal, neverRan]), done };
}
