import { fork, type ChildProcess } from 'node:child_process';
import { setPriority } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import type { SandboxClientOptions, SandboxCredentials, SandboxRequestRecord } from '../../src/testing';
import { lateTicksBefore, type LateTick } from './late-ticks';
import type { ConnectDelay } from './recording-proxy';

// From the project root, where Jest and the npm scripts run: this module is loaded as CommonJS
// by Jest and as ESM by the bench, so neither __dirname nor import.meta exists in both.
const SCRIPT = path.resolve('tests', 'fixtures', 'sandbox-process.ts');
/** Longest wait for the process to start or to answer a command. */
const ANSWER_TIMEOUT_MS = 30_000;

/** What the sandbox process counted since it started or was last reset. */
export interface SandboxProcessStats {
  /** Requests with a token (what the server's budget counts). */
  count: number;
  rateLimited: number;
  /** Most arrivals of requests with a token in any rolling second (the sandbox's own clock). */
  maxArrivals: number;
  /** Arrival times of requests with a token, ms since the sandbox started. */
  arrivals: number[];
  /** Requests without a token (a test's other traffic to the same server). */
  otherTraffic: number;
  /** When the server answered 429 (ms since it started, as `arrivals`). */
  rateLimitedAt: number[];
  /** When the server's own event loop ran more than 5 ms late, and by how much (see watchLateTicks). */
  lateTicks: LateTick[];
}

/**
 * The server's lateness within `withinMs` before each 429 (`[429 at, [late at, late ms]…]`): what
 * an overrun's report shows next to it, to tell a client that sent too much from a server that
 * stamped arrivals late (its event loop behind) and so packed them into one rolling second.
 */
function latenessBefore429s(stats: SandboxProcessStats): [number, LateTick[]][] {
  return stats.rateLimitedAt.map((at) => [at, lateTicksBefore(stats.lateTicks, at)]);
}

/**
 * A run's 429s with the server's lateness before each ({@link latenessBefore429s}), to compare
 * with {@link NO_429S}: a failing run shows whether the server stamped late.
 */
export function rateLimitedWithLateness(stats: SandboxProcessStats): {
  rateLimited: number;
  serverLateBefore429s: [number, LateTick[]][];
} {
  return { rateLimited: stats.rateLimited, serverLateBefore429s: latenessBefore429s(stats) };
}

/** What {@link rateLimitedWithLateness} gives for a run within the budget. */
export const NO_429S = { rateLimited: 0, serverLateBefore429s: [] };

/** What the sandbox process emulates. */
export interface SandboxProcessSettings {
  /** Every API answer is delayed this long. @default 0 */
  latencyMs?: number;
  /** Every token answer is delayed this long. @default 0 */
  tokenLatencyMs?: number;
  /** The API's limit per rolling second per (app key, tenant). @default 60 */
  requestsPerSecond?: number;
  /**
   * A TLS terminator in front of the API, in the sandbox's process (`tlsPort`): the server side of
   * every handshake is the server's work, not the measuring process's. @default none
   */
  tls?: { key: string; cert: string; handshakeDelayMs?: number };
  /** The clients the token endpoint accepts (the first is `options`'). @default one, generated */
  clients?: SandboxCredentials[];
  /** The token endpoint's port on 127.0.0.1. @default a free one */
  authPort?: number;
}

/** What the sandbox process logged (the sandbox's own records, as `Sandbox.token.requests` and `.api.requests`). */
export interface SandboxProcessRecords {
  token: SandboxRequestRecord[];
  api: SandboxRequestRecord[];
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
  /** The TLS terminator's port on 127.0.0.1 (with `settings.tls`). */
  readonly tlsPort: number | undefined;
  readonly #child: ChildProcess;
  #nextId = 1;

  private constructor(child: ChildProcess, started: { options: SandboxClientOptions; tlsPort?: number }) {
    this.#child = child;
    this.options = started.options;
    this.tlsPort = started.tlsPort;
  }

  static async start(settings: SandboxProcessSettings = {}): Promise<SandboxProcess> {
    const child = fork(SCRIPT, [JSON.stringify(settings)], {
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
    });
    raisePriority(child);
    try {
      const line = await withTimeout(
        new Promise<string>((resolve, reject) => {
          child.once('exit', (code) => reject(new Error(`sandbox process exited with ${String(code)}`)));
          createInterface({ input: child.stdout! }).once('line', resolve);
        }),
        'start',
      );
      return new SandboxProcess(child, JSON.parse(line) as { options: SandboxClientOptions; tlsPort?: number });
    } catch (error) {
      child.kill('SIGKILL');
      throw error;
    }
  }

  stats(): Promise<SandboxProcessStats> {
    return this.#call('stats');
  }

  /** Every request each endpoint received since the start or the last reset. */
  records(): Promise<SandboxProcessRecords> {
    return this.#call('records');
  }

  /** A TLS terminator in this process in front of `targetPort` on 127.0.0.1 (one of the sandbox's); resolves with its port. */
  async tlsFront(targetPort: number, certificate: { key: Buffer; cert: Buffer }): Promise<number> {
    const { port } = await this.#call<{ port: number }>('tlsFront', {
      targetPort,
      key: certificate.key.toString(),
      cert: certificate.cert.toString(),
    });
    return port;
  }

  /**
   * A recording HTTP proxy in this process (tests/helpers/recording-proxy.ts), one per process:
   * the first call starts it (holding its first CONNECTs with `connectDelay`); resolves with its URL.
   */
  async proxy(connectDelay?: ConnectDelay): Promise<string> {
    return (await this.#call<{ url: string }>('proxy', connectDelay === undefined ? {} : { connectDelay })).url;
  }

  /** What the proxy saw: the targets of its CONNECTs and its plain requests' request lines. */
  proxySeen(): Promise<{ connects: string[]; plainRequests: string[] }> {
    return this.#call('proxySeen');
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

  #call<T>(
    cmd: 'stats' | 'records' | 'reset' | 'tlsFront' | 'proxy' | 'proxySeen' | 'close',
    args: Record<string, unknown> = {},
  ): Promise<T> {
    const id = this.#nextId++;
    let onMessage: (reply: { id: number; result: T }) => void = () => undefined;
    const answered = new Promise<T>((resolve) => {
      onMessage = (reply) => {
        if (reply.id === id) resolve(reply.result);
      };
      this.#child.on('message', onMessage);
      this.#child.send({ ...args, id, cmd });
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

/**
 * ServiceTitan does not share the client's CPU; a sandbox that does timestamps arrivals when it
 * gets to run. On a machine at load 16 (2 cores) it was descheduled long enough to stamp
 * requests sent over more than a second into one rolling second: an "overrun" of the server,
 * not of the client. Run ahead of the processes under test where the OS allows it (root, or
 * CAP_SYS_NICE; otherwise it runs as before). Its own work is tiny: it takes CPU from no one.
 */
export function raisePriority(child: ChildProcess): void {
  if (child.pid === undefined) return;
  try {
    setPriority(child.pid, -10);
  } catch {
    // Not allowed here: the counts are as exact as the machine's load lets them be.
  }
}

/** A {@link SandboxProcess} for the tests of a `describe`: started before them, closed after. */
export function useSandboxProcess(settings: SandboxProcessSettings = {}): () => SandboxProcess {
  let sandbox: SandboxProcess | undefined;
  beforeAll(async () => {
    sandbox = await SandboxProcess.start(settings);
  }, 30_000); // starting a process with tsx takes seconds on a busy machine
  afterAll(async () => {
    await sandbox?.close();
  });
  return () => {
    if (sandbox === undefined) throw new Error('useSandboxProcess: the sandbox process is not started yet');
    return sandbox;
  };
}
