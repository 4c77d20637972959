import { SandboxProcess, type SandboxProcessSettings } from './sandbox-process';
import { startWorkerProcess, type WorkerProcess } from './worker-process';

/**
 * For tests that drive worker processes (a fleet) against a sandbox in its own process: a fresh
 * sandbox for each test, and every worker a test started killed after it, so a failed test leaves
 * none running. Call it inside a `describe`.
 */
export function useSandboxFleet(settings: SandboxProcessSettings): {
  sandbox(): SandboxProcess;
  /** Starts `count` workers running `script`, worker `i` with `env(i)` added to this process's environment. */
  start(script: string, count: number, env: (index: number) => Record<string, string>): WorkerProcess[];
} {
  let sandbox: SandboxProcess | undefined;
  let started: WorkerProcess[] = [];
  beforeEach(async () => {
    sandbox = await SandboxProcess.start(settings);
  }, 30_000);
  afterEach(async () => {
    for (const worker of started) if (worker.child.exitCode === null) worker.child.kill('SIGKILL');
    started = [];
    await sandbox?.close();
  });
  return {
    sandbox: () => {
      if (sandbox === undefined) throw new Error('useSandboxFleet: the sandbox starts before each test');
      return sandbox;
    },
    start: (script, count, env) => {
      const workers = Array.from({ length: count }, (_, index) => startWorkerProcess(script, env(index)));
      started.push(...workers);
      return workers;
    },
  };
}

/**
 * Sends each worker `quit`, waits for all to exit by themselves, and resolves with what they
 * printed besides their protocol lines (`ready`, `done …`, `bye`): warnings, errors (expect none).
 */
export async function quitWorkers(workers: readonly WorkerProcess[]): Promise<string[]> {
  for (const worker of workers) worker.send('quit');
  await Promise.all(workers.map((worker) => worker.exited));
  return workers.flatMap((worker) => worker.output.filter((line) => !/^(ready|done|bye)/.test(line)));
}
