/**
 * Instructions per request, counted by valgrind (callgrind): the client's own path against bare
 * axios without the noise of CPU time (issue 18 item 6). CPU-time ratios on a shared 2-core VM
 * spread 0.95–1.05× between two runs of the same variant, as wide as the 1.05× aim itself; an
 * instruction count does not depend on what else the machine runs.
 *
 *   node --import tsx bench/instructions-per-request.ts [--variants=axios,client-defaults] \
 *     [--rounds=2] [--warmup=5000] [--requests=1000] [--concurrency=16] [--jobs=1] [--keep=<dir>]
 *
 * `--jobs=2` runs two variants' valgrind processes at a time (a count does not depend on what
 * else runs; on 2 cores, halves the wall time).
 *
 * `--keep=<dir>` keeps callgrind's files (`<variant>-<requests>-r<round>.callgrind`), for
 * `callgrind_annotate` by function: V8's builtins and runtime, libuv and the kernel's entry points
 * have names; JIT-compiled JavaScript shows as unnamed addresses.
 *
 * Each variant runs twice per round in a fresh `node` under valgrind, against the sandbox in its
 * own process: after `warmup` requests, `base` (200) or `base + requests` more; the difference of
 * the two counts, divided by `requests`, is what a request costs once warm, start-up and warm-up
 * cancelled out. Every thread of the client process is counted (GC helpers included: valgrind
 * runs them one at a time); the kernel's side of a system call is not. Needs `valgrind` on the
 * PATH (Debian: `apt-get install valgrind`); about 50× slower than native (a round of two
 * variants takes ~6 min here).
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ServerInfo } from './protocol';
import { runAsScript } from './run-as-script';
import { BenchServer } from './server-control';
import { fixed, runPool, table, thousands } from './stats';
import { VARIANT_LABELS, createSubject, type VariantName } from './variants';

const SELF = fileURLToPath(import.meta.url);
/** Requests after the warm-up in the shorter of a variant's two runs. */
const BASE_REQUESTS = 200;

/**
 * Where instructions go, by callgrind's function names: V8 compiling (parsing, bytecode, the
 * optimizing compilers: work that ends once the code is warm, but still runs thousands of requests
 * in), collecting garbage, and the rest (JavaScript, V8's builtins, Node, libuv: the requests
 * themselves).
 */
type Kind = 'compiling' | 'gc' | 'running';
const COMPILING =
  /v8::internal::(compiler|maglev|baseline|interpreter|Parser|PreParser|Scanner|Compiler|turboshaft|RegExp|AstValueFactory|Zone)|SourcePosition|BytecodeGenerator|OptimizedCompilationInfo/;
const GC = /Scaveng|Sweep|Mark(ing|er|Compact)|Heap::|heap::|Evacuat|Compactor|MinorGC|ConcurrentMarking|GCTracer/;

/** Instructions by {@link Kind} in one callgrind file (every function, `callgrind_annotate`). */
async function instructionsByKind(file: string): Promise<Record<Kind, number>> {
  const annotate = spawn('callgrind_annotate', ['--threshold=100', file], { stdio: ['ignore', 'pipe', 'inherit'] });
  const counts: Record<Kind, number> = { compiling: 0, gc: 0, running: 0 };
  for await (const line of createInterface({ input: annotate.stdout })) {
    const match = /^\s*([\d,]+) \(\s*[\d.]+%\)\s+(.*)$/.exec(line);
    if (match === null || match[2]!.includes('PROGRAM TOTALS')) continue;
    const name = match[2]!;
    counts[COMPILING.test(name) ? 'compiling' : GC.test(name) ? 'gc' : 'running'] += Number(
      match[1]!.replaceAll(',', ''),
    );
  }
  return counts;
}

interface WorkerConfig {
  variant: VariantName;
  server: ServerInfo;
  warmup: number;
  requests: number;
  concurrency: number;
}

interface Config {
  variants: VariantName[];
  rounds: number;
  warmup: number;
  requests: number;
  concurrency: number;
  /** How many variants' valgrind runs go at a time. */
  jobs: number;
  /** Where to keep callgrind's output files, if anywhere. */
  keep: string | undefined;
}

/** In the child, under valgrind: warm up, then the requests counted. */
async function worker(config: WorkerConfig): Promise<void> {
  const subject = await createSubject(config.variant, config.server, { maxSockets: config.concurrency });
  for (const total of [config.warmup, config.requests]) {
    const { failures, firstError } = await runPool(total, config.concurrency, () => subject.instance.get(subject.url));
    if (failures > 0) throw new Error(`${config.variant}: ${failures} requests failed: ${String(firstError)}`);
  }
  subject.dispose();
}

const KINDS: readonly Kind[] = ['compiling', 'gc', 'running'];
const total = (kinds: Record<Kind, number>) => kinds.compiling + kinds.gc + kinds.running;
/** What a warm process spends on a request: everything but compiling. */
const warm = (kinds: Record<Kind, number>) => kinds.gc + kinds.running;

/** Runs one worker process under callgrind, its counts into `outFile`. */
async function runUnderCallgrind(config: WorkerConfig, outFile: string): Promise<void> {
  const child = spawn(
    'valgrind',
    [
      '--tool=callgrind',
      // V8 writes and rewrites machine code on the heap (the JIT).
      '--smc-check=all-non-file',
      `--callgrind-out-file=${outFile}`,
      process.execPath,
      // V8 compiles and collects garbage on the main thread, when it would otherwise hand the work
      // to helper threads that finish it whenever they are scheduled: in which run's counted
      // requests a compile job lands no longer varies (with helpers, two runs of the same variant
      // differed by 10 % and more).
      '--single-threaded',
      '--import',
      'tsx',
      SELF,
    ],
    { env: { ...process.env, INSTRUCTIONS_WORKER: JSON.stringify(config) }, stdio: ['ignore', 'inherit', 'pipe'] },
  );
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', resolve);
  });
  if (code !== 0 || !/Collected : \d+/.test(stderr)) {
    throw new Error(`valgrind run of ${config.variant} failed (exit ${String(code)}):\n${stderr.slice(-2000)}`);
  }
}

function parseArgs(args: readonly string[]): Config {
  const flag = (name: string, fallback: string) =>
    args.find((arg) => arg.startsWith(`--${name}=`))?.slice(name.length + 3) ?? fallback;
  const variants = flag('variants', 'axios,client-defaults').split(',') as VariantName[];
  for (const name of variants) if (!(name in VARIANT_LABELS)) throw new Error(`unknown variant ${name}`);
  const count = (name: string, fallback: number) => {
    const value = Number(flag(name, String(fallback)));
    if (!Number.isInteger(value) || value < 1) throw new Error(`--${name} must be an integer >= 1`);
    return value;
  };
  return {
    variants,
    rounds: count('rounds', 2),
    warmup: count('warmup', 5000),
    requests: count('requests', 1000),
    concurrency: count('concurrency', 16),
    jobs: count('jobs', 1),
    keep: args.find((arg) => arg.startsWith('--keep='))?.slice('--keep='.length),
  };
}

async function main(): Promise<void> {
  const config = parseArgs(process.argv.slice(2));
  const server = await BenchServer.start();
  const outDir = config.keep ?? mkdtempSync(path.join(tmpdir(), 'instructions-'));
  if (config.keep !== undefined) mkdirSync(config.keep, { recursive: true });
  /** Per variant, per round: instructions per request by kind. */
  const perRequest = new Map<VariantName, Record<Kind, number>[]>(config.variants.map((variant) => [variant, []]));
  try {
    for (let round = 0; round < config.rounds; round += 1) {
      // Alternate the order, so that a drift over the run (none expected) does not favour one.
      const order = round % 2 === 0 ? config.variants : [...config.variants].reverse();
      const perVariant = new Map<VariantName, Record<Kind, number>>();
      const { failures, firstError } = await runPool(order.length, config.jobs, async (index) => {
        const variant = order[index]!;
        const run = async (requests: number) => {
          const file = path.join(outDir, `${variant}-${requests}-r${round + 1}.callgrind`);
          await runUnderCallgrind(
            { variant, server: server.info, warmup: config.warmup, requests, concurrency: config.concurrency },
            file,
          );
          return instructionsByKind(file);
        };
        const base = await run(BASE_REQUESTS);
        const more = await run(BASE_REQUESTS + config.requests);
        const kinds = {} as Record<Kind, number>;
        for (const kind of KINDS) kinds[kind] = (more[kind] - base[kind]) / config.requests;
        perVariant.set(variant, kinds);
        process.stderr.write(
          `  round ${round + 1}/${config.rounds} ${variant}: ${thousands(total(kinds))} instructions per request (${thousands(kinds.compiling)} compiling)\n`,
        );
      });
      if (failures > 0) throw firstError;
      for (const variant of config.variants) perRequest.get(variant)!.push(perVariant.get(variant)!);
    }
  } finally {
    if (config.keep === undefined) rmSync(outDir, { recursive: true, force: true });
    await server.close();
  }
  const reference = perRequest.get(config.variants[0]!)!;
  const rows = config.variants.map((variant) => {
    const rounds = perRequest.get(variant)!;
    // Round by round: a variant against the first one measured in the same round.
    const ratio = (pick: (kinds: Record<Kind, number>) => number) =>
      rounds.map((kinds, round) => fixed(pick(kinds) / pick(reference[round]!), 3)).join(', ');
    const each = (pick: (kinds: Record<Kind, number>) => number) =>
      rounds.map((kinds) => thousands(pick(kinds))).join(', ');
    return [
      VARIANT_LABELS[variant],
      each(total),
      ratio(total),
      each((kinds) => kinds.compiling),
      each((kinds) => kinds.gc),
      each((kinds) => kinds.running),
      ratio(warm),
    ];
  });
  process.stdout.write(
    `### Instructions per request (valgrind callgrind, every thread of the client process), GET at concurrency ${config.concurrency}\n\n${table(
      [
        'variant',
        'instructions per request',
        `vs ${config.variants[0]}`,
        'V8 compiling',
        'GC',
        'running (JS, builtins, Node, libuv)',
        `GC + running vs ${config.variants[0]}`,
      ],
      rows,
    )}\n\nPer round (${config.rounds}), comma-separated; each: two runs per variant after ${config.warmup} warm-up requests, ${BASE_REQUESTS} and ${BASE_REQUESTS + config.requests} requests, the difference over ${config.requests}. The sandbox runs in its own process, not counted. Compiling is work a long-running process stops doing once its code is warm; how much of it still lands in the counted requests varies run to run.\n`,
  );
}

const workerConfig = process.env.INSTRUCTIONS_WORKER;
if (workerConfig !== undefined) {
  worker(JSON.parse(workerConfig) as WorkerConfig).then(
    () => process.exit(0),
    (error: unknown) => {
      console.error(error);
      process.exit(2);
    },
  );
} else {
  runAsScript(import.meta.url, main);
}
