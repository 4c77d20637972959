// Runs every examples/*.ts, one after the other, with tsx. `npm run examples`.
//
//   node scripts/run-examples.mjs                  in the repository (tsconfig `paths` map the
//                                                  package name to src/), against embedded
//                                                  sandboxes: the ST_* variables are removed, so no
//                                                  example reaches real ServiceTitan;
//   node scripts/run-examples.mjs --use-st-env     keeps the ST_* variables (e.g. the lines
//                                                  `npx axios-servicetitan-auth sandbox` prints);
//   node scripts/run-examples.mjs --cwd <project>  runs <project>/examples/*.ts from <project>, a
//                                                  consumer project that installed the tarball
//                                                  (scripts/check-package.sh).
// Prints `ok <file> (<ms> ms)` per example; on a non-zero exit or a 60 s timeout it prints the
// example's output and the run fails with exit code 1.
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath, URL } from 'node:url';
import { parseArgs } from 'node:util';
import process from 'node:process';
import { clearTimeout, setTimeout } from 'node:timers';

const TIMEOUT_MS = 60_000;
const { values: args } = parseArgs({
  options: { cwd: { type: 'string' }, 'use-st-env': { type: 'boolean', default: false } },
});
const root = args.cwd === undefined ? fileURLToPath(new URL('..', import.meta.url)) : resolve(args.cwd);
const files = readdirSync(join(root, 'examples'))
  .filter((name) => name.endsWith('.ts'))
  .sort()
  .map((name) => join('examples', name));
const env = Object.fromEntries(
  Object.entries(process.env).filter(([name]) => args['use-st-env'] || !name.startsWith('ST_')),
);

function run(file) {
  return new Promise((resolve) => {
    const started = Date.now();
    const child = spawn(process.execPath, ['--import', 'tsx', file], {
      cwd: root,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, TIMEOUT_MS);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ ms: Date.now() - started, output, timedOut, code, signal });
    });
    child.on('error', (error) => {
      clearTimeout(timer);
      resolve({ ms: Date.now() - started, output: `${output}${error.message}\n`, timedOut, code: null, signal: null });
    });
  });
}

let failed = 0;
for (const file of files) {
  const { ms, output, timedOut, code, signal } = await run(file);
  if (code === 0 && !timedOut) {
    console.log(`ok ${file} (${ms} ms)`);
    continue;
  }
  failed += 1;
  const reason = timedOut ? `timed out after ${TIMEOUT_MS / 1000} s` : `exit code ${code ?? signal}`;
  console.log(`FAIL ${file} (${reason}, ${ms} ms)\n${output.trimEnd() || '(no output)'}\n`);
}
if (files.length === 0) {
  console.log('no examples found in examples/');
  failed = 1;
}
process.exitCode = failed > 0 ? 1 : 0;
