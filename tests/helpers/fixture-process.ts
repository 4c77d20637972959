import { spawn } from 'node:child_process';
import path from 'node:path';

/** How a fixture's process ended, and everything it printed. */
export interface FixtureRun {
  /** The exit code; `null` when it was killed (see `killAfterMs`). */
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `node --import tsx tests/fixtures/<script> ...args` to its end, as a user's program runs:
 * a child process shows what only a whole process shows (Node's own warning output, its exit on an
 * unhandled rejection, whether it exits on its own) and keeps other test files' warnings out.
 */
export function runFixture(
  script: string,
  args: readonly string[] = [],
  options: {
    /** Added to this process's environment. */
    env?: Record<string, string>;
    /** A process still running this long after its start is killed (code `null`). @default never */
    killAfterMs?: number;
  } = {},
): Promise<FixtureRun> {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(__dirname, '..', 'fixtures', script), ...args], {
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const killer =
    options.killAfterMs === undefined ? undefined : setTimeout(() => child.kill('SIGKILL'), options.killAfterMs);
  return new Promise((resolve) =>
    child.on('close', (code) => {
      clearTimeout(killer);
      resolve({ code, stdout, stderr });
    }),
  );
}
