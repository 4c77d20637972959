/** Holds the event loop for `ms`, as a process starved of CPU, stopped by the OS or in a long GC pause does. */
export function holdEventLoop(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    // Nothing: no timer, no I/O runs meanwhile.
  }
}
