import { clearTimeout, setTimeout } from 'node:timers';

/**
 * The sandbox's life: delays and hangs end when it closes, so nothing it started outlives
 * `close()` (no timer, no pending request).
 */
export class Lifecycle {
  #closed = false;
  readonly #sleepers = new Map<ReturnType<typeof setTimeout>, () => void>();
  readonly #closeWaiters = new Set<() => void>();

  get closed(): boolean {
    return this.#closed;
  }

  /** Resolves after `ms` milliseconds, or at once when the sandbox closes. */
  sleep(ms: number): Promise<void> {
    if (this.#closed) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#sleepers.delete(timer);
        resolve();
      }, ms);
      timer.unref();
      this.#sleepers.set(timer, resolve);
    });
  }

  /** Resolves when the sandbox closes. */
  untilClosed(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    return new Promise((resolve) => this.#closeWaiters.add(resolve));
  }

  close(): void {
    this.#closed = true;
    for (const [timer, resolve] of this.#sleepers) {
      clearTimeout(timer);
      resolve();
    }
    this.#sleepers.clear();
    for (const resolve of this.#closeWaiters) resolve();
    this.#closeWaiters.clear();
  }
}
