import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
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

/** The FLEET_* variables the fleet fixtures read: where the sandbox and Redis are, and who to be. */
export function fleetEnv(sandbox: SandboxClientOptions, redisPort: number): Record<string, string> {
  return {
    FLEET_AUTH_URL: sandbox.environment.authUrl,
    FLEET_API_URL: sandbox.environment.apiUrl,
    FLEET_CLIENT_ID: sandbox.clientId,
    FLEET_CLIENT_SECRET: sandbox.clientSecret,
    FLEET_APP_KEY: sandbox.appKey,
    FLEET_TENANT_ID: sandbox.tenantId,
    FLEET_REDIS_PORT: String(redisPort),
  };
}
