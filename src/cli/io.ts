/** Where the CLI writes and what it reads: `process` in the bin, fakes in the tests. */
export interface CliIo {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
  /** The environment variables (`ST_CLIENT_ID`, …). */
  env: Record<string, string | undefined>;
  /**
   * Stops long-running commands (`sandbox`) when it aborts. Without it they stop on SIGINT or
   * SIGTERM.
   */
  signal?: AbortSignal;
}
