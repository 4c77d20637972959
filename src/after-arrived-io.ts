/**
 * Runs `callback` once the I/O that has already arrived is read: on the next turn of the event
 * loop, after its poll phase. For timeouts: a process that was not running past a deadline
 * (starved of CPU, a long GC pause, a blocked event loop) runs its due timers before it reads its
 * sockets, so an answer that came in time would be taken for a timeout, unread. Used by the store
 * commands' timeout (src/stores/command-timeout.ts) and the request deadlines
 * (src/rate-limit/deadline-ticks.ts).
 *
 * Not unref'd: with an unref'd immediate the loop waits in its poll for other I/O before running
 * it (a silent Redis's command failed ~7 s late instead of at its 200 ms timeout).
 */
export function afterArrivedIo<A extends unknown[]>(callback: (...args: A) => void, ...args: A): NodeJS.Immediate {
  return setImmediate(callback, ...args);
}
