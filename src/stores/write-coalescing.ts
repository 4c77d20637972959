import type { Writable } from 'node:stream';

/** Connections whose writes of this tick are being gathered. */
const gathering = new WeakSet<Writable>();

/**
 * Gathers the commands a store sends to `redis` in this tick into one socket write: corks the
 * connection's socket until the tick ends (`process.nextTick`, before the event loop goes on).
 * ioredis writes each command on its own (one `write` system call each, unless the application
 * turned on `enableAutoPipelining`); at a cold start a process sends a token write, the next
 * tenant's lock and rate-limit takes together, and on loopback each call cost ~50-100 µs of
 * the main thread (issue 18 item 3). Commands still go in order and nothing waits longer than
 * the current tick. A Cluster (no single socket) is left alone.
 */
export function gatherWritesOfThisTick(redis: object): void {
  const stream = (redis as { stream?: Partial<Writable> }).stream;
  if (stream === undefined || typeof stream.cork !== 'function' || typeof stream.uncork !== 'function') return;
  const socket = stream as Writable;
  if (gathering.has(socket) || socket.writableEnded || socket.destroyed) return;
  gathering.add(socket);
  socket.cork();
  process.nextTick(() => {
    gathering.delete(socket);
    socket.uncork();
  });
}
