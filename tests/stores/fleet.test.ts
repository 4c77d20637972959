import path from 'node:path';
import { startSandbox, type Sandbox } from '../../src/testing';
import { describeWithRedisCluster, useRedisCluster } from '../helpers/redis-cluster';
import { describeWithRedis, useRedisServer } from '../helpers/redis-server';
import { fleetEnv, startWorkerProcess, warningsOf, type WorkerProcess as Worker } from '../helpers/worker-process';

const WORKERS = 4;
const REQUESTS_PER_WORKER = 25;
const workerScript = path.join(__dirname, '..', 'fixtures', 'fleet-worker.ts');

/** Where the workers' Redis is: one server, or a Cluster's nodes. */
type RedisTarget = { port: number } | { nodes: readonly { host: string; port: number }[] };

function startWorker(sandbox: Sandbox, redis: RedisTarget): Worker {
  if ('port' in redis) return startWorkerProcess(workerScript, fleetEnv(sandbox.clientOptions, redis.port));
  return startWorkerProcess(workerScript, {
    ...fleetEnv(sandbox.clientOptions, redis.nodes[0]!.port),
    FLEET_REDIS_CLUSTER: redis.nodes.map(({ host, port }) => `${host}:${port}`).join(','),
  });
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

function fleetSuite(redis: () => RedisTarget): void {
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
    workers = Array.from({ length: WORKERS }, () => startWorker(sandbox, redis()));
    await Promise.all(workers.map((worker) => worker.next('ready')));

    const cold = await round(sandbox, workers);
    expect(cold).toEqual(Array(WORKERS).fill(`done ${REQUESTS_PER_WORKER} 0`));
    expect(warningsOf(workers)).toEqual([]);
    expect(sandbox.token.count).toBe(1);

    sandbox.revokeAllTokens();
    const renewed = await round(sandbox, workers);
    expect(renewed).toEqual(Array(WORKERS).fill(`done ${REQUESTS_PER_WORKER} 0`));
    expect(warningsOf(workers)).toEqual([]);
    expect(sandbox.token.count).toBe(2);
    expect(sandbox.tokensSeen).toEqual(['tok-1', 'tok-2']);

    // Closing the store and the client is all it takes for a worker to exit.
    for (const worker of workers) worker.send('quit');
    await expect(Promise.all(workers.map((worker) => worker.exited))).resolves.toEqual(Array(WORKERS).fill(0));
    expect(workers.flatMap((worker) => worker.output.filter((line) => !/^(ready|done|bye)/.test(line)))).toEqual([]);
  }, 30_000);
}

describeWithRedis('a fleet of processes sharing one Redis store', () => {
  const server = useRedisServer();
  fleetSuite(() => ({ port: server().port }));
});

// The same fleet on a 3-master Redis Cluster: every worker an ioredis Cluster client.
describeWithRedisCluster('a fleet of processes sharing one Redis Cluster', () => {
  const cluster = useRedisCluster();
  fleetSuite(() => ({ nodes: cluster().nodes }));
});
