import { CliError, ExitCode } from './exit-codes';

/**
 * One time budget for a whole command (`--timeout`): the token fetch with its retries and the
 * probe call share it, so `check` ends within the budget whatever the endpoints do (per-request
 * timeouts alone let a token fetch with retries and backoff, then a probe, take ~40 s).
 */
export interface Deadline {
  /** Aborts when the budget is spent; pass it to every request of the command. */
  readonly signal: AbortSignal;
  /** Whether the budget is spent. */
  readonly expired: boolean;
  /** The error to report when `what` was cut short by the deadline (exit 4, code `timeout`). */
  exceeded(what: string): CliError;
  /** Stops the timer (the command finished in time). */
  clear(): void;
}

/**
 * Starts the clock of a command's budget. The timer is unref'd: it never keeps the process alive.
 *
 * @example
 * const deadline = startDeadline(30_000);
 * try {
 *   await client.get(path, { signal: deadline.signal });
 * } catch (error) {
 *   if (deadline.expired) throw deadline.exceeded(`GET ${path}`);
 *   throw error;
 * } finally {
 *   deadline.clear();
 * }
 */
export function startDeadline(budgetMs: number): Deadline {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), budgetMs).unref();
  return {
    signal: controller.signal,
    get expired() {
      return controller.signal.aborted;
    },
    exceeded: (what) =>
      new CliError(
        ExitCode.unreachable,
        'timeout',
        `${what} did not finish within the time budget of ${budgetMs} ms (--timeout, for the whole command): check the network, or raise --timeout`,
      ),
    clear: () => clearTimeout(timer),
  };
}
