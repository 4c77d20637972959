import type { CliError } from './exit-codes';
import type { CliIo } from './io';

/**
 * The `error` member of what every command prints on failure under `--json`:
 * `{"ok":false,"error":{"code","message","exitCode"}}` (with `check`'s partial report beside it).
 */
export interface JsonError {
  /** Stable machine-readable code (`invalid_client`, `missing_credentials`, `timeout`, `usage`…). */
  code: string;
  /** What went wrong and what to check; never a secret, a token or an argument's value. */
  message: string;
  /** The process exit code (see `--help`). */
  exitCode: number;
}

/** The {@link JsonError} of a CLI failure. */
export function jsonError(error: CliError): JsonError {
  return { code: error.code, message: error.message, exitCode: error.exitCode };
}

/** Writes the one JSON failure shape, `{"ok":false,"error":{…}}`, on one line of stdout. */
export function writeJsonError(io: CliIo, error: CliError): void {
  writeJson(io, { ok: false, error: jsonError(error) });
}

/** Aligned `  label  value` lines, as `check` and `sandbox` print them. */
export function formatRows(rows: ReadonlyArray<readonly [label: string, value: string]>, indent = '  '): string {
  const width = Math.max(0, ...rows.map(([label]) => label.length));
  return rows.map(([label, value]) => `${indent}${label.padEnd(width)}  ${value}\n`).join('');
}

/** `15 min`, `14 min 59 s`, `42 s`, `2 h 5 min`; negative durations read `expired 3 s ago`. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return 'unknown';
  const total = Math.round(Math.abs(ms) / 1000);
  const hours = Math.floor(total / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const seconds = total % 60;
  const parts = [
    hours > 0 ? `${hours} h` : '',
    minutes > 0 ? `${minutes} min` : '',
    seconds > 0 || total === 0 ? `${seconds} s` : '',
  ]
    .filter((part) => part !== '')
    .slice(0, 2);
  return parts.join(' ');
}

/** `in 15 min (at 2025-01-01T10:15:00.000Z)`, or `expired …` for a past time. */
export function formatExpiry(expiresAt: number, now = Date.now()): string {
  if (!Number.isFinite(expiresAt)) return 'unknown';
  const left = expiresAt - now;
  const at = new Date(expiresAt).toISOString();
  return left >= 0 ? `in ${formatDuration(left)} (at ${at})` : `expired ${formatDuration(left)} ago (at ${at})`;
}

/** Writes one JSON object on one line (for `--json`). */
export function writeJson(io: CliIo, value: unknown): void {
  io.stdout.write(`${JSON.stringify(value)}\n`);
}

/** Writes `error: <message>` to stderr. */
export function writeError(io: CliIo, message: string): void {
  io.stderr.write(`error: ${message}\n`);
}

/** Quotes a value for a POSIX shell when it needs it (for the `export` lines). */
export function shellQuote(value: string): string {
  return /^[\w@%+=:,./-]+$/.test(value) ? value : `'${value.replaceAll("'", `'\\''`)}'`;
}
