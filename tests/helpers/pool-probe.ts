import { Worker } from 'node:worker_threads';

/** What a {@link startPoolProbe} saw: the longest waits, in ms, beyond the same moment's control. */
export interface PoolProbeFigures {
  /** Longest `fs.stat` or `fs.readFile` of a small file (see {@link startPoolProbe}), beyond the control round trip. */
  fsMs: number;
  /** Longest `dns.lookup('localhost')`, beyond the control round trip. */
  dnsMs: number;
  samples: number;
}

/**
 * Measures how long libuv's thread pool (4 threads, shared by the whole process) makes `fs` and
 * `dns` calls wait: a `fs` call and a `dns.lookup` in a loop, from a worker thread, whose own
 * event loop is idle, so what it measures is the pool's queue, not the main thread's busy loop.
 */
export interface PoolProbe {
  /** Resolves once the first round trip is done (the probe runs). */
  started: Promise<void>;
  /** Stops the probe; resolves to what it saw. */
  stop(): Promise<PoolProbeFigures>;
}

/**
 * Starts a {@link PoolProbe} on `file`, one round every `intervalMs` (a small file: the pool's work, not the disk's). `stat` is
 * one pool task, so its wait beyond the control is the pool's queue; `readFile` is four in a row
 * (open, fstat, read, close), what an application's read waits, and on a starved machine each
 * of the four also waits for a pool thread to be scheduled.
 */
export function startPoolProbe(file: string, fsCall: 'stat' | 'readFile' = 'stat', intervalMs = 20): PoolProbe {
  const worker = new Worker(
    `
    const { parentPort, Worker, workerData } = require('node:worker_threads');
    const fs = require('node:fs');
    const dns = require('node:dns');
    // The control: a round trip to another idle thread, which the pool's queue does not delay
    // but the machine's CPU contention does, like it delays a pool thread waking up.
    const echo = new Worker("require('node:worker_threads').parentPort.on('message', (m) => require('node:worker_threads').parentPort.postMessage(m))", { eval: true });
    let pending;
    echo.on('message', () => pending());
    let fsMs = 0, dnsMs = 0, samples = 0, running = true;
    const timed = (call) => new Promise((resolve) => { const t = performance.now(); call(() => resolve(performance.now() - t)); });
    (async () => {
      while (running) {
        const [f, d, e] = await Promise.all([
          timed((done) => fs[workerData.fsCall](workerData.file, done)),
          timed((done) => dns.lookup('localhost', done)),
          timed((done) => { pending = done; echo.postMessage(0); }),
        ]);
        fsMs = Math.max(fsMs, f - e); dnsMs = Math.max(dnsMs, d - e); samples += 1;
        if (samples === 1) parentPort.postMessage('started');
        await new Promise((resolve) => setTimeout(resolve, workerData.intervalMs));
      }
      await echo.terminate();
      parentPort.postMessage({ fsMs, dnsMs, samples });
    })();
    parentPort.on('message', () => { running = false; });
    `,
    { eval: true, workerData: { file, fsCall, intervalMs } },
  );
  const messages: unknown[] = [];
  const waiting: ((message: unknown) => void)[] = [];
  worker.on('message', (message: unknown) => {
    const next = waiting.shift();
    if (next === undefined) messages.push(message);
    else next(message);
  });
  const nextMessage = () =>
    new Promise<unknown>((resolve) => (messages.length > 0 ? resolve(messages.shift()) : waiting.push(resolve)));
  return {
    started: nextMessage().then(() => undefined),
    async stop() {
      worker.postMessage('stop');
      const figures = (await nextMessage()) as PoolProbeFigures;
      await worker.terminate();
      return figures;
    },
  };
}
