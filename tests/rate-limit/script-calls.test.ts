import { randomBytes } from 'node:crypto';
import dns from 'node:dns';
import http from 'node:http';
import type { LookupFunction } from 'node:net';
import path from 'node:path';
import { Cluster, Redis } from 'ioredis';
import { createServiceTitanClient, type ServiceTitanClient } from '../../src';
import { RedisRateLimitStore } from '../../src/redis';
import { startSandbox } from '../../src/testing';
import { describeWithRedisCluster, useRedisCluster } from '../helpers/redis-cluster';
import { describeWithRedis, useRedisServer } from '../helpers/redis-server';
import { scriptCalls } from '../helpers/redis-script-calls';
import { SandboxProcess } from '../helpers/sandbox-process';
import { fleetEnv, startWorkerProcess, type WorkerProcess } from '../helpers/worker-process';

// What a request costs Redis: script calls (INFO commandstats: EVAL, EVALSHA, FCALL) per request
// counted at the server, for a fleet on one tenant, under budget and saturated (issue 18 item 2:
// on main, 2 under budget and 2.05 / 2.60 / 2.75-3.60 / 6.0-6.4 saturated for 1 / 2 / 4 / 8
// processes). The figures are printed; the assertions are the aims (met with a wide margin on a
// machine at load 10-15). The budget itself is asserted by fleet.test.ts and
// fleet-connection-delays.test.ts: here 480 requests at once from up to 8 processes saw a 429 now
// and then on a machine at load 14 with main's store as with this one (the sandbox timestamps a
// burst late on a busy machine), so the 429s are printed, not asserted.
const BUDGET = 60;
const workerScript = path.join(__dirname, '..', 'fixtures', 'rate-limit-worker.ts');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describeWithRedis('RedisRateLimitStore: script calls per API request', () => {
  const redis = useRedisServer();
  let sandbox: SandboxProcess;
  let workers: WorkerProcess[] = [];
  let observer: Redis;
  const figures: string[] = [];

  beforeAll(async () => {
    sandbox = await SandboxProcess.start({ requestsPerSecond: BUDGET });
    observer = new Redis(redis().port, '127.0.0.1');
    workers = Array.from({ length: 8 }, () =>
      startWorkerProcess(workerScript, fleetEnv(sandbox.options, redis().port)),
    );
    await Promise.all(workers.map((worker) => worker.next('ready')));
    // Open each worker's connections (a window's worth), so what follows measures warm sockets.
    for (const worker of workers) {
      worker.send(`go ${BUDGET / 2}`);
      await worker.next('done');
    }
  }, 120_000);
  afterAll(async () => {
    // eslint-disable-next-line no-console
    console.log(`script calls per API request (at the server):\n${figures.join('\n')}`);
    for (const worker of workers) if (worker.child.exitCode === null) worker.child.kill('SIGKILL');
    observer.disconnect();
    await sandbox.close();
  });

  /** Runs `work` on an empty window; resolves with script calls ÷ requests the sandbox counted. */
  async function perRequest(what: string, work: () => Promise<string[]>): Promise<number> {
    await sleep(2_200); // the previous run's send times leave the window
    await sandbox.reset();
    const before = await scriptCalls(observer);
    const done = await work();
    // Reports of the last writes go on their own within half a window (no take follows them).
    await sleep(800);
    const calls = (await scriptCalls(observer)) - before;
    const stats = await sandbox.stats();
    const ratio = calls / stats.count;
    figures.push(
      `  ${what}: ${calls} calls / ${stats.count} requests = ${ratio.toFixed(2)} (429s: ${stats.rateLimited}, max arrivals: ${stats.maxArrivals})`,
    );
    expect(done.every((line) => / 0 \d+$/.test(line))).toBe(true);
    return ratio;
  }

  /** `n` workers each fire `each` requests at once: the tenant is saturated for `n × each / 60` s. */
  const saturated = (n: number, each: number) => async () => {
    const fleet = workers.slice(0, n);
    for (const worker of fleet) worker.send(`go ${each}`);
    return Promise.all(fleet.map((worker) => worker.next('done')));
  };

  /**
   * `n` workers take turns sending one request every 25 ms (40 per second for the fleet, 5 per
   * second each for 8): a worker's written requests ride on its next take when it makes one
   * within half a window (520 ms), as any worker sending 2 or more per second does.
   */
  const underBudget = (n: number, total: number) => async () => {
    const fleet = workers.slice(0, n);
    const done: Promise<string>[] = [];
    for (let i = 0; i < total; i += 1) {
      const worker = fleet[i % n]!;
      worker.send('go 1');
      done.push(worker.next('done'));
      await sleep(25);
    }
    return Promise.all(done);
  };

  test.each([1, 2, 4, 8])(
    'under budget, %i process(es): about one call per request',
    async (n) => {
      const ratio = await perRequest(`under budget, ${n} process(es), 240 requests at 40/s`, underBudget(n, 240));
      // One take per request, which also reports the requests written since the process's
      // previous one. A report of its own for each process's last request (no take follows it):
      // 8 of 240 with 8 processes.
      expect(ratio).toBeLessThanOrEqual(1.1);
    },
    60_000,
  );

  test.each([1, 2, 4, 8])(
    'saturated, %i process(es)',
    async (n) => {
      const each = Math.ceil(480 / n);
      const ratio = await perRequest(`saturated, ${n} process(es) × ${each} requests at once`, saturated(n, each));
      // One take for up to 4 waiting requests (and the written ones ride along), plus the refusals:
      // each waiting client comes back when its own places free, not all at once (0.46-0.84 on a
      // machine at load 10-15; main made 2.2-3.0 here, 6 with 8 processes in issue 18).
      expect(ratio).toBeLessThanOrEqual(1.5);
    },
    60_000,
  );
});

// ServiceTitan's large fleets: thousands of tenants, each at a request a second or so. A tenant's
// next take comes a second later, too late to carry its last request's write-time report (it must
// reach Redis within half a window), so on main every request cost 2 calls (the take and a report
// of its own; 1.59 in bench:fleet 2 × 100). The reports of all the tenants of a store now ride on
// whichever take goes next to the same Redis (the same Cluster master), or go together in one call
// when none does.
const TENANTS = 40;
const SECONDS = 3;
/**
 * Every request here goes on a new connection whose DNS lookup takes this long, so each is written
 * more than 1 ms after its take and needs a report (SharedBudget skips a report only within 1 ms:
 * a warm socket on an idle machine); on a busy machine or to a distant API that is most requests.
 */
const LOOKUP_DELAY_MS = 5;

/**
 * `TENANTS` clients in this process sharing one RedisRateLimitStore on `redis`, each sending one
 * request a second for `SECONDS` s, the tenants spread evenly over the second. Resolves with script
 * calls (INFO commandstats, every master) ÷ requests the sandbox counted.
 */
async function manyTenantsAtOnePerSecond(redis: Redis | Cluster, figures: string[], what: string): Promise<number> {
  const clients = Array.from({ length: TENANTS }, (_, index) => ({
    clientId: `fleet-client-${index}`,
    clientSecret: randomBytes(24).toString('hex'),
    tenantId: String(5000 + index),
  }));
  const sandbox = await startSandbox({ clients, rateLimit: { requestsPerSecond: BUDGET }, requestLogLimit: 10_000 });
  const slowLookup: LookupFunction = (host, options, callback) => {
    setTimeout(() => dns.lookup(host, { ...options, family: 4 }, callback), LOOKUP_DELAY_MS);
  };
  const agent = new http.Agent({ keepAlive: false, lookup: slowLookup });
  const store = new RedisRateLimitStore(redis, { commandTimeoutMs: 2_000 });
  try {
    const tenants: ServiceTitanClient[] = clients.map(({ clientId, clientSecret, tenantId }) =>
      createServiceTitanClient({
        clientId,
        clientSecret,
        tenantId,
        appKey: sandbox.clientOptions.appKey,
        // A host name, so that the agent's lookup runs for each new connection.
        environment: {
          authUrl: sandbox.clientOptions.environment.authUrl,
          apiUrl: sandbox.clientOptions.environment.apiUrl.replace('127.0.0.1', 'localhost'),
        },
        axios: { httpAgent: agent },
        rateLimit: { store },
      }),
    );
    await Promise.all(tenants.map((client) => client.auth.getToken()));
    await sleep(2_200); // earlier tests' send times leave the window
    sandbox.resetCounters();
    const before = await scriptCalls(redis);
    const sent: Promise<unknown>[] = [];
    const started = performance.now();
    for (let k = 0; k < SECONDS * TENANTS; k += 1) {
      // Request k is tenant k mod TENANTS's, due at k × 1000 / TENANTS ms.
      await sleep(Math.max(0, started + (k * 1000) / TENANTS - performance.now()));
      sent.push(tenants[k % TENANTS]!.get('/crm/v2/tenant/{tenant}/customers', { params: { pageSize: 1 } }));
    }
    const results = await Promise.allSettled(sent);
    // The last writes' reports go within half a window (no take follows them).
    await sleep(800);
    const calls = (await scriptCalls(redis)) - before;
    const count = sandbox.api.requests.filter((request) => request.tokenId !== undefined).length;
    const ratio = calls / count;
    figures.push(
      `  ${what}: ${calls} calls / ${count} requests = ${ratio.toFixed(2)} (429s: ${sandbox.api.rateLimited}, max arrivals per tenant: ${Math.max(...clients.map(({ tenantId }) => sandbox.api.maxArrivals(1000, (request) => request.path.includes(`/tenant/${tenantId}/`))))})`,
    );
    expect(results.filter((result) => result.status === 'rejected')).toEqual([]);
    expect(count).toBe(SECONDS * TENANTS);
    return ratio;
  } finally {
    agent.destroy();
    await sandbox.close();
  }
}

describe.each([
  ['one redis-server', describeWithRedis, 'single'],
  ['a 3-master Redis Cluster', describeWithRedisCluster, 'cluster'],
] as const)('RedisRateLimitStore: many tenants at 1 request/s each, on %s', (_name, describeWith, topology) => {
  describeWith(`script calls per request (${topology})`, () => {
    const server = topology === 'single' ? useRedisServer() : undefined;
    const cluster = topology === 'cluster' ? useRedisCluster() : undefined;
    const figures: string[] = [];
    let redis: Redis | Cluster;
    beforeAll(async () => {
      redis = server !== undefined ? new Redis(server().port, '127.0.0.1') : new Cluster([...cluster!().nodes]);
      await redis.ping();
      if (redis instanceof Cluster) await Promise.all(redis.nodes('master').map((node) => node.ping()));
    });
    afterAll(async () => {
      // eslint-disable-next-line no-console
      console.log(`script calls per API request, ${TENANTS} tenants at 1/s (${topology}):\n${figures.join('\n')}`);
      await redis.quit();
    });

    test(`${TENANTS} tenants × 1 request/s, one store: about one call per request (main: 2)`, async () => {
      const ratio = await manyTenantsAtOnePerSecond(redis, figures, `${TENANTS} tenants × ${SECONDS} s`);
      // One take per request; the reports ride on the next take to the same Redis (Cluster
      // master), a few ms later. A call of their own only for the last requests' (nothing
      // follows them): 1 on one Redis, up to one per master on the Cluster, of 120 requests.
      expect(ratio).toBeLessThanOrEqual(1.1);
    }, 60_000);
  });
});
