// Checks the code blocks of README.md and every docs/*.md as a user would paste them, inside a
// consumer project that installed the packed tarball (scripts/check-package.sh builds it):
//
//   node scripts/check-readme-snippets.mjs --project <dir>          type-check every block
//   node scripts/check-readme-snippets.mjs --project <dir> --run    also run the blocks marked `run`
//   node scripts/check-readme-snippets.mjs --files-into <dir>       write the blocks marked `file:`
//                                                                   into <dir> as copied, print names
//
// Blocks: ```ts (also `typescript`, `mts`) are ES modules in TypeScript; ```js and ```mjs are ES
// modules in JavaScript (a `.mjs` file); ```cjs is CommonJS (a `.cjs` file, checked and run as
// CommonJS); ```cts is CommonJS in TypeScript. JavaScript is type-checked too (`checkJs`).
// Other fences (sh, console, json, text…) are not code to check.
//
// Convention (invisible on GitHub and npm): an HTML comment right above a block.
//
//   <!-- snippet: run -->                      self-contained: run it (with a 30 s timeout), with the
//                                              ST_* variables of the caller (a sandbox's, in CI)
//   <!-- snippet: run; file: customers.mjs --> also: the text tells the reader to save this block as
//                                              customers.mjs; --files-into writes it so (the name
//                                              must appear in the 6 lines above the block)
//   <!-- snippet
//   declare const tenantId: number;            a hidden prelude: declarations for the block's free
//   -->                                        variables, prepended before type-checking (TS only)
//   <!-- snippet: skip (reason) -->            not checked (say why)
//
// A block without a comment is type-checked as it stands, so a new block cannot drift either.
// Each block is its own module (top-level await allowed in ES modules). Errors name the Markdown
// file and line (`docs/errors.md:42`). The README itself must stay a landing page: at most 200
// lines, its first runnable block within the first 40.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import process from 'node:process';
import { fileURLToPath, URL } from 'node:url';
import { parseArgs } from 'node:util';

const RUN_TIMEOUT_MS = 30_000;
/** Fence language → extension of the file the block becomes (which sets its module system). */
const EXTENSIONS = {
  ts: '.mts',
  typescript: '.mts',
  mts: '.mts',
  cts: '.cts',
  js: '.mjs',
  javascript: '.mjs',
  mjs: '.mjs',
  cjs: '.cjs',
};
const root = fileURLToPath(new URL('..', import.meta.url));
const { values: args } = parseArgs({
  options: {
    project: { type: 'string' },
    run: { type: 'boolean', default: false },
    'files-into': { type: 'string' },
  },
});
if (args.project === undefined && args['files-into'] === undefined) {
  console.error('usage: check-readme-snippets.mjs --project <consumer project> [--run] | --files-into <dir>');
  process.exit(2);
}

/** README.md, then docs/*.md in name order: the Markdown files whose blocks are checked. */
function markdownFiles() {
  const docs = existsSync(join(root, 'docs'))
    ? readdirSync(join(root, 'docs'))
        .filter((name) => name.endsWith('.md'))
        .sort()
        .map((name) => `docs/${name}`)
    : [];
  return ['README.md', ...docs];
}

/** The code blocks of a Markdown file, each with the snippet comment right above it. */
function extractSnippets(file) {
  const lines = readFileSync(join(root, file), 'utf8').split('\n');
  const snippets = [];
  for (let i = 0; i < lines.length; i += 1) {
    const fence = /^```\s*([\w-]+)\s*$/.exec(lines[i]);
    if (!fence) continue;
    const start = i + 1;
    let end = start;
    while (end < lines.length && !/^```\s*$/.test(lines[end])) end += 1;
    const extension = EXTENSIONS[fence[1].toLowerCase()];
    if (extension !== undefined) {
      const marker = commentAbove(lines, i);
      // `line` is the 1-based Markdown line of the block's first line of code.
      snippets.push({ file, line: start + 1, extension, code: lines.slice(start, end).join('\n'), ...marker });
      if (marker.saveAs !== undefined && !lines.slice(Math.max(0, i - 6), i).some((l) => l.includes(marker.saveAs))) {
        fail(
          `${file}:${start + 1}: the block is marked "file: ${marker.saveAs}" but the text above it never names that file`,
        );
      }
    }
    i = end;
  }
  return snippets;
}

function commentAbove(lines, fence) {
  const none = { run: false, skip: false, prelude: '', saveAs: undefined };
  let last = fence - 1;
  while (last >= 0 && lines[last].trim() === '') last -= 1;
  if (last < 0 || !lines[last].trim().endsWith('-->')) return none;
  let first = last;
  while (first >= 0 && !lines[first].includes('<!--')) first -= 1;
  const text = lines
    .slice(first, last + 1)
    .join('\n')
    .replace(/^\s*<!--/, '')
    .replace(/-->\s*$/, '');
  const [head = '', ...rest] = text.split('\n');
  const match = /^\s*snippet\b:?\s*(.*)$/.exec(head);
  if (!match) return none;
  const flags = match[1];
  return {
    run: /\brun\b/.test(flags),
    skip: /\bskip\b/.test(flags),
    prelude: rest.join('\n'),
    saveAs: /\bfile:\s*([\w.-]+)/.exec(flags)?.[1],
  };
}

function fail(message) {
  console.error(message);
  process.exit(1);
}

/** `docs/errors.md` line 42 → `docs-errors.md-line-42`: the generated file's base name. */
function baseName(snippet) {
  return `${snippet.file.replace(/\//g, '-')}-line-${snippet.line}`;
}

const snippets = markdownFiles().flatMap(extractSnippets);

// The README is a landing page (issue 19): short, with code a newcomer can run near the top.
const README_MAX_LINES = 200;
const FIRST_RUN_BY_LINE = 40;
const readmeLines = readFileSync(join(root, 'README.md'), 'utf8').trimEnd().split('\n').length;
if (readmeLines > README_MAX_LINES) {
  fail(
    `README.md has ${readmeLines} lines: keep it a landing page of at most ${README_MAX_LINES}; move the rest to docs/`,
  );
}
const firstRun = snippets.find((s) => s.file === 'README.md' && s.run && !s.skip);
if (firstRun === undefined || firstRun.line > FIRST_RUN_BY_LINE) {
  fail(
    `README.md: the first runnable block (<!-- snippet: run -->) must start within its first ${FIRST_RUN_BY_LINE} lines`,
  );
}

if (args['files-into'] !== undefined) {
  const into = resolve(args['files-into']);
  mkdirSync(into, { recursive: true });
  for (const snippet of snippets.filter((s) => s.saveAs !== undefined)) {
    writeFileSync(join(into, snippet.saveAs), `${snippet.code}\n`);
    console.log(snippet.saveAs);
  }
  process.exit(0);
}

const project = resolve(args.project);
const dir = join(project, 'readme-snippets');
rmSync(dir, { recursive: true, force: true });
mkdirSync(dir, { recursive: true });
const checked = snippets.filter((s) => !s.skip);
/** Generated file name → how its lines map back to the Markdown. */
const sources = new Map();
for (const snippet of checked) {
  const name = `${baseName(snippet)}${snippet.extension}`;
  const prelude = snippet.prelude === '' ? [] : snippet.prelude.split('\n');
  // `export {}` makes every ES module block a module (top-level await, own scope); a CommonJS
  // file is a module by its extension already, and `export` would be a syntax error there.
  const esm = snippet.extension === '.mts' || snippet.extension === '.mjs';
  writeFileSync(join(dir, name), [...prelude, snippet.code, ...(esm ? ['export {};'] : []), ''].join('\n'));
  sources.set(name, { snippet, preludeLines: prelude.length });
}
// Two programs: TypeScript blocks under `strict`; JavaScript blocks under `strict` too but
// without `noImplicitAny`, which in plain JavaScript flags every untyped callback parameter:
// what the check catches there is a wrong import, option or call, as a user's editor would.
const compilerOptions = {
  module: 'nodenext',
  moduleResolution: 'nodenext',
  target: 'es2022',
  lib: ['es2023'],
  types: ['node'],
  strict: true,
  noEmit: true,
  skipLibCheck: true,
};
const programs = [
  { config: 'tsconfig.json', include: ['*.mts', '*.cts'], options: {} },
  {
    config: 'tsconfig.js.json',
    include: ['*.mjs', '*.cjs'],
    options: { allowJs: true, checkJs: true, noImplicitAny: false },
  },
].filter((program) => [...sources.keys()].some((name) => program.include.some((glob) => name.endsWith(glob.slice(1)))));
for (const program of programs) {
  writeFileSync(
    join(dir, program.config),
    JSON.stringify({ compilerOptions: { ...compilerOptions, ...program.options }, include: program.include }),
  );
}

/** `readme-snippets/docs-errors.md-line-42.mts(3,7): error …` → `docs/errors.md:44:7: error …`. */
function toMarkdownPosition(line) {
  const match = /^(?:.*[\\/])?([^\\/(]+)\((\d+),(\d+)\): (.*)$/.exec(line);
  const source = match && sources.get(match[1]);
  if (!source) return line;
  const row = Number(match[2]);
  const { snippet, preludeLines } = source;
  if (row <= preludeLines) return `${snippet.file}:${snippet.line} (hidden prelude, line ${row}): ${match[4]}`;
  return `${snippet.file}:${snippet.line + row - preludeLines - 1}:${match[3]}: ${match[4]}`;
}

let typeErrors = '';
for (const program of programs) {
  const tsc = spawnSync(join(root, 'node_modules/.bin/tsc'), ['-p', join(dir, program.config), '--pretty', 'false'], {
    cwd: project,
    encoding: 'utf8',
  });
  if (tsc.status !== 0) typeErrors += `${tsc.stdout}${tsc.stderr}`;
}
if (typeErrors !== '') {
  console.error(typeErrors.split('\n').map(toMarkdownPosition).join('\n'));
  fail(
    'Code blocks of the docs do not type-check (positions are file:line:column in the Markdown). ' +
      'Fix the block, or declare its free variables in a <!-- snippet … --> prelude (see this script).',
  );
}
const skipped = snippets.length - checked.length;
const perFile = markdownFiles()
  .map((file) => `${file} ${checked.filter((s) => s.file === file).length}`)
  .join(', ');
console.log(`doc blocks: ${checked.length} type-check (${perFile})${skipped > 0 ? `, ${skipped} marked skip` : ''}`);

if (args.run) {
  const esbuild = join(root, 'node_modules/.bin/esbuild');
  let failed = 0;
  for (const snippet of checked.filter((s) => s.run)) {
    const name = baseName(snippet);
    const where = `${snippet.file}:${snippet.line}`;
    let program = join(dir, `${name}${snippet.extension}`);
    if (snippet.extension === '.mts' || snippet.extension === '.cts') {
      const format = snippet.extension === '.mts' ? 'esm' : 'cjs';
      const outfile = join(dir, `${name}.${format === 'esm' ? 'mjs' : 'cjs'}`);
      const built = spawnSync(esbuild, [program, `--format=${format}`, '--platform=node', `--outfile=${outfile}`], {
        encoding: 'utf8',
      });
      if (built.status !== 0) {
        console.error(`FAIL ${where}: esbuild\n${built.stderr}`);
        failed += 1;
        continue;
      }
      program = outfile;
    }
    const started = Date.now();
    const ran = spawnSync(process.execPath, [program], {
      cwd: project,
      encoding: 'utf8',
      timeout: RUN_TIMEOUT_MS,
      killSignal: 'SIGKILL',
    });
    const ms = Date.now() - started;
    if (ran.status === 0) {
      console.log(`ok ${where} (${ms} ms)`);
    } else {
      failed += 1;
      const why = ran.signal ? `killed after ${RUN_TIMEOUT_MS / 1000} s (${ran.signal})` : `exit code ${ran.status}`;
      console.log(`FAIL ${where}: ${why}\n${ran.stdout}${ran.stderr}`);
    }
  }
  if (failed > 0) process.exit(1);
}
