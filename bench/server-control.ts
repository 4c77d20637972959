/** Harness side of bench/server.ts: forks the sandbox into its own process and drives it over IPC. */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { SandboxOptions } from '../src/testing';
import { raisePriority } from '../tests/helpers/sandbox-process';
import type { ControlCommand, ControlReply, Counters, ServerInfo, TenantCounters } from './protocol';

const SERVER_SCRIPT = fileURLToPath(new URL('./server.ts', import.meta.url));

export class BenchServer {
  readonly info: ServerInfo;
  readonly #child: ChildProcess;
  readonly #pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
  #nextId = 1;

  private constructor(child: ChildProcess, info: ServerInfo) {
    this.#child = child;
    this.info = info;
    child.on('message', (reply: ControlReply) => {
      const waiter = this.#pending.get(reply.id);
      if (waiter === undefined) return;
      this.#pending.delete(reply.id);
      if (reply.ok) waiter.resolve(reply.result);
      else waiter.reject(new Error(`server: ${reply.error}`));
    });
  }

  /**
   * Starts the sandbox in a child process (`node --import tsx bench/server.ts`). The options go
   * through a file: thousands of tenants' credentials do not fit in one command-line argument.
   * `busyPoll`: the server's event loop never sleeps (see `--busy-poll` in bench/server.ts).
   */
  static async start(options: SandboxOptions = {}, { busyPoll = false } = {}): Promise<BenchServer> {
    const dir = mkdtempSync(path.join(tmpdir(), 'bench-server-'));
    const file = path.join(dir, 'options.json');
    writeFileSync(file, JSON.stringify(options));
    try {
      const child = fork(SERVER_SCRIPT, [`@${file}`, ...(busyPoll ? ['--busy-poll'] : [])], {
        execArgv: ['--import', 'tsx'],
        stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
      });
      // Ahead of the workers, as a remote API would be: its counts and its 5 ms token endpoint
      // are then the server's, not the measuring machine's load (see raisePriority).
      raisePriority(child);
      const lines = createInterface({ input: child.stdout! });
      const info = await new Promise<ServerInfo>((resolve, reject) => {
        child.once('exit', (code) => reject(new Error(`bench server exited with ${String(code)} before it was ready`)));
        lines.once('line', (line) => resolve(JSON.parse(line) as ServerInfo));
      });
      return new BenchServer(child, info);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  #call<T>(command: ControlCommand): Promise<T> {
    const id = this.#nextId++;
    return new Promise<T>((resolve, reject) => {
      this.#pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      this.#child.send({ ...command, id });
    });
  }

  counters(): Promise<Counters> {
    return this.#call({ cmd: 'counters' });
  }
  /** Per-tenant arrivals and counts (bench/fleet.ts). */
  tenantCounters(): Promise<TenantCounters> {
    return this.#call({ cmd: 'tenantCounters' });
  }
  /** Zeroes the sandbox's counters and request log. */
  resetCounters(): Promise<void> {
    return this.#call({ cmd: 'reset' });
  }
  /** Holds every API request in flight (at the server) until `release()`. */
  hold(): Promise<void> {
    return this.#call({ cmd: 'hold' });
  }
  untilWaiting(count: number): Promise<number> {
    return this.#call({ cmd: 'untilWaiting', count });
  }
  release(): Promise<void> {
    return this.#call({ cmd: 'release' });
  }
  revokeAll(): Promise<void> {
    return this.#call({ cmd: 'revokeAll' });
  }
  /** The next token request is answered after `delayMs` (a slow token endpoint). */
  delayNextToken(delayMs: number): Promise<void> {
    return this.#call({ cmd: 'delayNextToken', delayMs });
  }
  /** Every later token request is answered `delayMs` after it arrives (the token endpoint's own time). */
  tokenLatency(delayMs: number): Promise<void> {
    return this.#call({ cmd: 'tokenLatency', delayMs });
  }
  /** Every later API request is answered `delayMs` after it arrives (server-side latency). */
  apiLatency(delayMs: number): Promise<void> {
    return this.#call({ cmd: 'apiLatency', delayMs });
  }

  async close(): Promise<void> {
    const exited = new Promise<void>((resolve) => this.#child.once('exit', () => resolve()));
    await this.#call({ cmd: 'close' }).catch(() => undefined);
    await exited;
  }
}
