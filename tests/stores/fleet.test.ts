import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { startSandbox, type Sandbox } from '../../src/testing';
import { describeWithRedis, useRedisServer } from '../helpers/redis-server';

const WORKERS = 4;
const REQUESTS_PER_WORKER = 25;
const workerScript = path.join(__dirname, '..', 'fixtures', 'fleet-worker.ts');

/** A worker process and the lines it printed, awaited one at a time. */
interface Worker {
  child: ChildProcess;
  /** Resolves with the next line starting with `prefix` (other lines are kept in `output`). */
  next(prefix: string): Promise<string>;
  send(line: string): void;
  output: string[];
  exited: Promise<number | null>;
}

function startWorker(sandbox: Sandbox, redisPort: number): Worker {
  const child = spawn(process.execPath, ['--import', 'tsx', workerScript], {
    env: {
      ...process.env,
      FLEET_AUTH_URL: sandbox.authUrl,
      FLEET_API_URL: sandbox.apiUrl,
      FLEET_CLIENT_ID: sandbox.clientId,
      FLEET_CLIENT_SECRET: sandbox.clientSecret,
      FLEET_APP_KEY: sandbox.appKey,
      FLEET_TENANT_ID: sandbox.tenantId,
      FLEET_REDIS_PORT: String(redisPort),
    },
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

/** Sends `go n` to every worker, holding the token endpoint briefly so they all contend for it. */
async function round(sandbox: Sandbox, workers: Worker[]): Promise<string[]> {
  const hold = sandbox.token.hold();
  for (const worker of workers) worker.send(`go ${REQUESTS_PER_WORKER}`);
  await hold.untilWaiting(1);
  // Every worker is by now queued behind the fetch lock or waiting on the pub/sub channel.
  await new Promise((resolve) => setTimeout(resolve, 300));
  hold.release();
  return Promise.all(workers.map((worker) => worker.next('done')));
}

describeWithRedis('a fleet of processes sharing one Redis store', () => {
  const redis = useRedisServer();
  let sandbox: Sandbox;
  let workers: Worker[] = [];

  beforeEach(async () => {
    sandbox = await startSandbox({ rateLimit: false, reportRateLimit: false });
  });
  afterEach(async () => {
    for (const worker of workers) if (worker.child.exitCode === null) worker.child.kill('SIGKILL');
    workers = [];
    await sandbox.close();
  });

  test(`${WORKERS} processes × ${REQUESTS_PER_WORKER} cold requests → one token; a revocation → one renewal`, async () => {
    workers = Array.from({ length: WORKERS }, () => startWorker(sandbox, redis().port));
    await Promise.all(workers.map((worker) => worker.next('ready')));

    const cold = await round(sandbox, workers);
    expect(cold).toEqual(Array(WORKERS).fill(`done ${REQUESTS_PER_WORKER} 0`));
    expect(sandbox.token.count).toBe(1);

    sandbox.revokeAllTokens();
    const renewed = await round(sandbox, workers);
    expect(renewed).toEqual(Array(WORKERS).fill(`done ${REQUESTS_PER_WORKER} 0`));
    expect(sandbox.token.count).toBe(2);
    expect(sandbox.tokensSeen).toEqual(['tok-1', 'tok-2']);

    // Closing the store and the client is all it takes for a worker to exit.
    for (const worker of workers) worker.send('quit');
    await expect(Promise.all(workers.map((worker) => worker.exited))).resolves.toEqual(Array(WORKERS).fill(0));
    expect(workers.flatMap((worker) => worker.output.filter((line) => !/^(ready|done|bye)/.test(line)))).toEqual([]);
  }, 30_000);
});
