// Checks the README's TypeScript blocks as a user would paste them, inside a consumer project
// that installed the packed tarball (scripts/check-package.sh builds it):
//
//   node scripts/check-readme-snippets.mjs --project <dir>          type-check every ```ts block
//   node scripts/check-readme-snippets.mjs --project <dir> --run    also run the blocks marked `run`
//
// Convention (invisible on GitHub and npm): an HTML comment right above a block.
//
//   <!-- snippet: run -->                      self-contained: run it (with a 30 s timeout), with the
//                                              ST_* variables of the caller (a sandbox's, in CI)
//   <!-- snippet
//   declare const tenantId: number;            a hidden prelude: declarations for the block's free
//   -->                                        variables, prepended before type-checking
//   <!-- snippet: skip (reason) -->            not checked (say why)
//
// A block without a comment is type-checked as it stands, so a new block cannot drift either.
// Each block is its own ES module (top-level await allowed). Errors name the README line.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import process from 'node:process';
import { fileURLToPath, URL } from 'node:url';
import { parseArgs } from 'node:util';

const RUN_TIMEOUT_MS = 30_000;
const root = fileURLToPath(new URL('..', import.meta.url));
const { values: args } = parseArgs({
  options: { project: { type: 'string' }, run: { type: 'boolean', default: false } },
});
if (args.project === undefined) {
  console.error('usage: check-readme-snippets.mjs --project <consumer project> [--run]');
  process.exit(2);
}
const project = resolve(args.project);

/** The ```ts blocks of a Markdown text, with the snippet comment right above each. */
function extractSnippets(markdown) {
  const lines = markdown.split('\n');
  const snippets = [];
  for (let i = 0; i < lines.length; i += 1) {
    if (!/^```(ts|typescript)\s*$/.test(lines[i])) continue;
    const start = i + 1;
    let end = start;
    while (end < lines.length && !/^```\s*$/.test(lines[end])) end += 1;
    const marker = commentAbove(lines, i);
    snippets.push({ line: start, code: lines.slice(start, end).join('\n'), ...marker });
    i = end;
  }
  return snippets;
}

function commentAbove(lines, fence) {
  let last = fence - 1;
  while (last >= 0 && lines[last].trim() === '') last -= 1;
  if (last < 0 || !lines[last].trim().endsWith('-->')) return { run: false, skip: false, prelude: '' };
  let first = last;
  while (first >= 0 && !lines[first].includes('<!--')) first -= 1;
  const text = lines
    .slice(first, last + 1)
    .join('\n')
    .replace(/^\s*<!--/, '')
    .replace(/-->\s*$/, '');
  const [head = '', ...rest] = text.split('\n');
  const match = /^\s*snippet\b:?\s*(.*)$/.exec(head);
  if (!match) return { run: false, skip: false, prelude: '' };
  const flags = match[1];
  return { run: /\brun\b/.test(flags), skip: /\bskip\b/.test(flags), prelude: rest.join('\n') };
}

const snippets = extractSnippets(readFileSync(join(root, 'README.md'), 'utf8'));
const dir = join(project, 'readme-snippets');
rmSync(dir, { recursive: true, force: true });
mkdirSync(dir, { recursive: true });
const checked = snippets.filter((s) => !s.skip);
for (const snippet of checked) {
  // The prelude goes first; `export {}` makes every block a module (top-level await, own scope).
  writeFileSync(join(dir, `README-line-${snippet.line}.ts`), `${snippet.prelude}\n${snippet.code}\nexport {};\n`);
}
writeFileSync(
  join(dir, 'tsconfig.json'),
  JSON.stringify({
    compilerOptions: {
      module: 'nodenext',
      moduleResolution: 'nodenext',
      target: 'es2022',
      lib: ['es2023'],
      types: ['node'],
      strict: true,
      noEmit: true,
      skipLibCheck: true,
    },
    include: ['*.ts'],
  }),
);
const tsc = spawnSync(join(root, 'node_modules/.bin/tsc'), ['-p', join(dir, 'tsconfig.json'), '--pretty', 'false'], {
  cwd: project,
  encoding: 'utf8',
});
if (tsc.status !== 0) {
  console.error(`${tsc.stdout}${tsc.stderr}`);
  console.error(
    'README snippets do not type-check (file README-line-N.ts is the block starting at README line N). ' +
      'Fix the block, or declare its free variables in a <!-- snippet … --> prelude (see this script).',
  );
  process.exit(1);
}
const skipped = snippets.length - checked.length;
console.log(`README snippets: ${checked.length} type-check${skipped > 0 ? ` (${skipped} marked skip)` : ''}`);

if (args.run) {
  const esbuild = join(root, 'node_modules/.bin/esbuild');
  let failed = 0;
  for (const snippet of checked.filter((s) => s.run)) {
    const name = `README-line-${snippet.line}`;
    const built = spawnSync(
      esbuild,
      [join(dir, `${name}.ts`), '--format=esm', '--platform=node', `--outfile=${join(dir, `${name}.mjs`)}`],
      {
        encoding: 'utf8',
      },
    );
    if (built.status !== 0) {
      console.error(built.stderr);
      failed += 1;
      continue;
    }
    const started = Date.now();
    const ran = spawnSync(process.execPath, [join(dir, `${name}.mjs`)], {
      cwd: project,
      encoding: 'utf8',
      timeout: RUN_TIMEOUT_MS,
      killSignal: 'SIGKILL',
    });
    const ms = Date.now() - started;
    if (ran.status === 0) {
      console.log(`ok README line ${snippet.line} (${ms} ms)`);
    } else {
      failed += 1;
      const why = ran.signal ? `killed after ${RUN_TIMEOUT_MS / 1000} s (${ran.signal})` : `exit code ${ran.status}`;
      console.log(`FAIL README line ${snippet.line}: ${why}\n${ran.stdout}${ran.stderr}`);
    }
  }
  if (failed > 0) process.exit(1);
}
