/**
 * What the runtime does per request for each variant, over the network (issue 18 item 6): async
 * resources created, by type (`async_hooks` `init`: PROMISE, Timeout, Immediate, TickObject…),
 * timers and ticks scheduled, `EventTarget` (abort signal) and `EventEmitter` listeners added and
 * removed, `AbortController`s made. Counts, not times: they do not drift with the machine's load,
 * so two variants (or two trees) compare exactly.
 *
 *   node --import tsx bench/request-path-counts.ts [--variants=axios,client-defaults] \
 *     [--requests=2000] [--warmup=3000] [--concurrency=16]
 *
 * While hooks listen, V8 makes a throwaway promise per `await`: the PROMISE count includes them.
 * The wrappers are installed before anything is measured and count only during the measured run.
 */
import { createHook } from 'node:async_hooks';
import { EventEmitter } from 'node:events';
import { BenchServer } from './server-control';
import { runAsScript } from './run-as-script';
import { runPool, table } from './stats';
import { VARIANT_LABELS, createSubject, type VariantName } from './variants';

type Counts = Map<string, number>;

let counting: Counts | undefined;

function count(key: string): void {
  if (counting !== undefined) counting.set(key, (counting.get(key) ?? 0) + 1);
}

/** Counts every call of `owner[name]` under `label(args)` while a run is measured. */
function wrap(owner: object, name: string, label: (args: unknown[]) => string): void {
  const target = owner as Record<string, (...args: unknown[]) => unknown>;
  const original = target[name]!;
  target[name] = function (this: unknown, ...args: unknown[]) {
    count(label(args));
    return original.apply(this, args);
  };
}

function installCounters(): void {
  createHook({ init: (_id, type) => count(`async resource: ${type}`) }).enable();
  for (const name of ['setTimeout', 'setImmediate', 'clearTimeout', 'queueMicrotask']) {
    wrap(globalThis, name, () => `${name}()`);
  }
  wrap(process, 'nextTick', () => 'process.nextTick()');
  for (const name of ['addEventListener', 'removeEventListener']) {
    wrap(EventTarget.prototype, name, (args) => `EventTarget ${name}('${String(args[0])}')`);
  }
  // `once` goes through `on`, so a once-listener counts under both.
  for (const name of ['on', 'prependListener', 'once', 'removeListener']) {
    wrap(EventEmitter.prototype, name, (args) => `EventEmitter ${name}('${String(args[0])}')`);
  }
  EventEmitter.prototype.addListener = EventEmitter.prototype.on;
  const Original = globalThis.AbortController;
  globalThis.AbortController = class extends Original {
    constructor() {
      super();
      count('new AbortController()');
    }
  };
}

function flag(args: readonly string[], name: string, fallback: string): string {
  return args.find((arg) => arg.startsWith(`--${name}=`))?.slice(name.length + 3) ?? fallback;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const names = flag(args, 'variants', 'axios,client-defaults').split(',') as VariantName[];
  for (const name of names) if (!(name in VARIANT_LABELS)) throw new Error(`unknown variant ${name}`);
  const requests = Number(flag(args, 'requests', '2000'));
  const warmup = Number(flag(args, 'warmup', '3000'));
  const concurrency = Number(flag(args, 'concurrency', '16'));
  installCounters();
  const server = await BenchServer.start();
  const perVariant: Counts[] = [];
  try {
    for (const name of names) {
      const subject = await createSubject(name, server.info, { maxSockets: concurrency });
      await runPool(warmup, concurrency, () => subject.instance.get(subject.url));
      const counts: Counts = new Map();
      counting = counts;
      const { failures } = await runPool(requests, concurrency, () => subject.instance.get(subject.url));
      counting = undefined;
      subject.dispose();
      if (failures > 0) throw new Error(`${name}: ${failures} requests failed`);
      perVariant.push(counts);
    }
  } finally {
    counting = undefined;
    await server.close();
  }
  const keys = [...new Set(perVariant.flatMap((counts) => [...counts.keys()]))].sort();
  const perRequest = (counts: Counts, key: string) => (counts.get(key) ?? 0) / requests;
  const rows = keys
    .filter((key) => perVariant.some((counts) => perRequest(counts, key) >= 0.01))
    .map((key) => [key, ...perVariant.map((counts) => perRequest(counts, key).toFixed(2))]);
  process.stdout.write(
    `${table(['per request', ...names.map((name) => VARIANT_LABELS[name])], rows)}\n\n` +
      `${requests} GETs at concurrency ${concurrency} per variant, after ${warmup} warm-up requests.\n`,
  );
}

runAsScript(import.meta.url, main);
