import { fork, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import type { SandboxClientOptions } from '../../src/testing';

// From the project root, where Jest and the npm scripts run: this module is loaded as CommonJS
// by Jest and as ESM by the bench, so neither __dirname nor import.meta exists in both.
const SCRIPT = path.resolve('tests', 'fixtures', 'sandbox-process.ts');
/** Longest wait for the process to start or to answer a command. */
const ANSWER_TIMEOUT_MS = 30_000;

/** What the sandbox process counted since it started or was last reset. */
export interface SandboxProcessStats {
  count: number;
  rateLimited: number;
  /** Most arrivals in any rolling second (the sandbox's own clock). */
  maxArrivals: number;
  /** Arrival times, ms since the sandbox started. */
  arrivals: number[];
}

/**
 * A sandbox in a child process (tests/fixtures/sandbox-process.ts), limiting like ServiceTitan,
 * for tests and benchmarks that count arrivals per rolling second: in its own process, what
 * counts them is not stalled by the measuring process's work (a GC pause of the Jest process
 * would shift arrivals by more than the limiter's 40 ms margin).
 */
export class SandboxProcess {
  /** Working client options: credentials, app key, tenant, environment. */
  readonly options: SandboxClientOptions;
  readonly #child: ChildProcess;
  #nextId = 1;

  private constructor(child: ChildProcess, options: SandboxClientOptions) {
    this.#child = child;
    this.options = options;
  }

  static async start(settings: { latencyMs?: number; requestsPerSecond?: number } = {}): Promise<SandboxProcess> {
    const child = fork(SCRIPT, [JSON.stringify(settings)], {
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
    });
    try {
      const line = await withTimeout(
        new Promise<string>((resolve, reject) => {
          child.once('exit', (code) => reject(new Error(`sandbox process exited with ${String(code)}`)));
          createInterface({ input: child.stdout! }).once('line', resolve);
        }),
        'start',
      );
      return new SandboxProcess(child, JSON.parse(line) as SandboxClientOptions);
    } catch (error) {
      child.kill('SIGKILL');
      throw error;
    }
  }

  stats(): Promise<SandboxProcessStats> {
    return this.#call('stats');
  }

  /** Zeroes the counts and the arrival log. */
  reset(): Promise<void> {
    return this.#call('reset');
  }

  async close(): Promise<void> {
    if (this.#child.exitCode !== null) return;
    const exited = new Promise((resolve) => this.#child.once('exit', resolve));
    try {
      await this.#call('close');
      await withTimeout(exited, 'exit');
    } catch {
      this.#child.kill('SIGKILL');
    }
  }

  #call<T>(cmd: 'stats' | 'reset' | 'close'): Promise<T> {
    const id = this.#nextId++;
    let onMessage: (reply: { id: number; result: T }) => void = () => undefined;
    const answered = new Promise<T>((resolve) => {
      onMessage = (reply) => {
        if (reply.id === id) resolve(reply.result);
      };
      this.#child.on('message', onMessage);
      this.#child.send({ id, cmd });
    });
    return withTimeout(answered, cmd).finally(() => this.#child.off('message', onMessage));
  }
}

function withTimeout<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`sandbox process: no answer to ${what} in ${ANSWER_TIMEOUT_MS} ms`)),
      ANSWER_TIMEOUT_MS,
    );
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
