/**
 * Two variants' CPU per request over the network, split into user, system and main-thread time,
 * in paired rounds (A B, then B A, …) after a long warm-up: which kind of CPU a variant's excess
 * over another is, and whether it is the main thread's (the client's own code, syscalls) or the
 * V8 helper threads' (concurrent GC, optimizing compiler). Ablations compare variants that differ
 * by one feature (issue 18 item 6):
 *
 *   node --expose-gc --import tsx bench/client-cost-split.ts [--a=axios] [--b=client-defaults] \
 *     [--rounds=10] [--requests=2000] [--warmup=6000] [--concurrency=16] [--busy-server]
 *
 * `--busy-server`: against a server whose event loop never sleeps (bench/server.ts `--busy-poll`),
 * so the kernel's wake-ups of the server are not charged to the client's system time.
 *
 * Variants: bench/variants.ts. Main-thread time comes from /proc (Linux only).
 */
import { readFileSync } from 'node:fs';
import { BenchServer } from './server-control';
import { collectGarbage, fixed, median, runPool, table } from './stats';
import { VARIANT_LABELS, createSubject, type Subject, type VariantName } from './variants';

interface Sample {
  user: number;
  system: number;
  mainThread: number;
}

/** This process's main thread's CPU time in µs (utime + stime of /proc/self/task/<pid>/stat). */
function mainThreadMicros(): number {
  const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Fields 14 and 15 of stat(5), in clock ticks of 10 ms (USER_HZ = 100 on Linux).
  return (Number(fields[11]) + Number(fields[12])) * 10_000;
}

async function measure(subject: Subject, requests: number, concurrency: number): Promise<Sample> {
  collectGarbage();
  const cpuBefore = process.cpuUsage();
  const mainBefore = mainThreadMicros();
  const { failures } = await runPool(requests, concurrency, () => subject.instance.get(subject.url));
  if (failures > 0) throw new Error(`${subject.name}: ${failures} requests failed`);
  const cpu = process.cpuUsage(cpuBefore);
  return {
    user: cpu.user / requests,
    system: cpu.system / requests,
    mainThread: (mainThreadMicros() - mainBefore) / requests,
  };
}

function flag(args: readonly string[], name: string, fallback: string): string {
  return args.find((arg) => arg.startsWith(`--${name}=`))?.slice(name.length + 3) ?? fallback;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const names = [flag(args, 'a', 'axios'), flag(args, 'b', 'client-defaults')] as [VariantName, VariantName];
  for (const name of names) if (!(name in VARIANT_LABELS)) throw new Error(`unknown variant ${name}`);
  const rounds = Number(flag(args, 'rounds', '10'));
  const requests = Number(flag(args, 'requests', '2000'));
  const warmup = Number(flag(args, 'warmup', '6000'));
  const concurrency = Number(flag(args, 'concurrency', '16'));
  const busyServer = args.includes('--busy-server');
  const server = await BenchServer.start({}, { busyPoll: busyServer });
  try {
    const subjects = await Promise.all(
      names.map((name) => createSubject(name, server.info, { maxSockets: concurrency })),
    );
    for (const subject of subjects) await runPool(warmup, concurrency, () => subject.instance.get(subject.url));
    const samples: [Sample[], Sample[]] = [[], []];
    for (let round = 0; round < rounds; round += 1) {
      const order = round % 2 === 0 ? [0, 1] : [1, 0];
      for (const k of order) samples[k]!.push(await measure(subjects[k]!, requests, concurrency));
    }
    for (const subject of subjects) subject.dispose();
    const of = (k: 0 | 1, pick: (s: Sample) => number) => median(samples[k].map(pick));
    const ratio = (pick: (s: Sample) => number) => median(samples[1].map((s, i) => pick(s) / pick(samples[0][i]!)));
    const kinds: [string, (s: Sample) => number][] = [
      ['process CPU (user + system)', (s) => s.user + s.system],
      ['user', (s) => s.user],
      ['system', (s) => s.system],
      ['main thread', (s) => s.mainThread],
    ];
    process.stdout.write(
      `${table(
        [
          'µs per request (median)',
          VARIANT_LABELS[names[0]],
          VARIANT_LABELS[names[1]],
          'B vs A (median of per-round ratios)',
        ],
        kinds.map(([label, pick]) => [label, fixed(of(0, pick), 1), fixed(of(1, pick), 1), fixed(ratio(pick), 3)]),
      )}\n\n${rounds} paired rounds × ${requests} GETs at concurrency ${concurrency}, after ${warmup} warm-up requests per variant${busyServer ? ', against a busy-polling server' : ''}.\n`,
    );
  } finally {
    await server.close();
  }
}

await main();
