import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { envVariableNames } from '../../src/env-options';
import type { SandboxClientOptions } from '../../src/testing';

/** A child process running a TypeScript fixture, driven by stdin lines, answering on stdout. */
export interface WorkerProcess {
  child: ChildProcess;
  /** Resolves with the next line starting with `prefix` (every line is kept in `output`). */
  next(prefix: string): Promise<string>;
  send(line: string): void;
  output: string[];
  exited: Promise<number | null>;
}

/**
 * The `warn …` lines the fleet fixtures print for their logger's warnings (a fallback to
 * per-process fetching among them): asserted empty before counting tokens, so a fallback fails
 * with its cause rather than as one token too many.
 */
export function warningsOf(workers: readonly WorkerProcess[]): string[] {
  return workers.flatMap(({ output }) => output.filter((line) => line.startsWith('warn ')));
}

/** Starts `node --import tsx <script>` with `env` added to this process's environment. */
export function startWorkerProcess(script: string, env: Record<string, string>): WorkerProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', script], {
    env: { ...process.env, ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  const waiting: { prefix: string; resolve: (line: string) => void }[] = [];
  let seen = 0;
  const deliver = () => {
    for (const waiter of [...waiting]) {
      const index = output.findIndex((line, i) => i >= seen && line.startsWith(waiter.prefix));
      if (index === -1) continue;
      seen = index + 1;
      waiting.splice(waiting.indexOf(waiter), 1);
      waiter.resolve(output[index]!);
    }
  };
  createInterface({ input: child.stdout! }).on('line', (line) => {
    output.push(line);
    deliver();
  });
  child.stderr!.on('data', (chunk: Buffer) => output.push(`stderr: ${chunk.toString().trim()}`));
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  return {
    child,
    output,
    exited,
    send: (line) => child.stdin!.write(`${line}\n`),
    next: (prefix) =>
      new Promise<string>((resolve, reject) => {
        waiting.push({ prefix, resolve });
        deliver();
        void exited.then((code) =>
          reject(new Error(`worker exited (${String(code)}) before "${prefix}":\n${output.join('\n')}`)),
        );
      }),
  };
}

/**
 * The sandbox's client options as `<prefix>CLIENT_ID`, … variables: what
 * `clientOptionsFromEnv({ prefix })` reads back in the child process.
 */
export function clientEnv(sandbox: SandboxClientOptions, prefix: string): Record<string, string> {
  const names = envVariableNames(prefix);
  return {
    [names.clientId]: sandbox.clientId,
    [names.clientSecret]: sandbox.clientSecret,
    [names.appKey]: sandbox.appKey,
    [names.tenantId]: sandbox.tenantId,
    [names.authUrl]: sandbox.environment.authUrl,
    [names.apiUrl]: sandbox.environment.apiUrl,
  };
}

/** The FLEET_* variables the fleet fixtures read: who to be, where the sandbox and Redis are. */
export function fleetEnv(sandbox: SandboxClientOptions, redisPort: number): Record<string, string> {
  return { ...clientEnv(sandbox, 'FLEET_'), FLEET_REDIS_PORT: String(redisPort) };
}

/** FLEET_REDIS_PORT, in a fleet fixture. */
export function fleetRedisPort(): number {
  const port = Number(process.env.FLEET_REDIS_PORT);
  if (!Number.isInteger(port) || port <= 0) throw new Error('FLEET_REDIS_PORT is not set');
  return port;
}
