#!/usr/bin/env node
import process from 'node:process';
import { main } from './main';

main(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, env: process.env }).then(
  exitAfterOutput,
  (error: unknown) => {
    process.stderr.write(`error: unexpected: ${error instanceof Error ? error.message : String(error)}\n`);
    exitAfterOutput(1);
  },
);

/**
 * Exits once stdout and stderr are written out. Exiting, rather than letting the event loop
 * drain, keeps `--timeout` a bound on the process: a token fetch cut short by the deadline goes
 * on in the background (the library finishes a shared fetch for its other waiters).
 */
function exitAfterOutput(code: number): void {
  process.exitCode = code;
  process.stdout.write('', () => process.stderr.write('', () => process.exit(code)));
}
