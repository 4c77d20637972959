/** The CLI's exit codes: documented in `--help` and docs/cli.md, stable for scripts. */
export const ExitCode = {
  /** Everything checked worked. */
  ok: 0,
  /** An unexpected internal error (a bug: please report it). */
  internal: 1,
  /** Usage or configuration error: unknown flag, missing credentials, bad URL. */
  usage: 2,
  /** The token endpoint rejected the client id / secret. */
  credentialsRejected: 3,
  /** Network or endpoint failure: DNS, refused connection, timeout, 5xx, unexpected answer. */
  unreachable: 4,
  /** The API refused the app key or the tenant (401 / 403 on the probe call). */
  apiRejected: 5,
} as const;

export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

/** A failure the CLI reports with a message and an exit code (never with a stack trace). */
export class CliError extends Error {
  override readonly name = 'CliError';

  constructor(
    readonly exitCode: ExitCodeValue,
    /** A stable machine-readable code for `--json` (e.g. `invalid_client`, `missing_credentials`). */
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** Shorthand for a usage / configuration error (exit code 2). */
export function usageError(message: string, code = 'usage'): CliError {
  return new CliError(ExitCode.usage, code, message);
}
