import http from 'node:http';
import path from 'node:path';
import { Redis } from 'ioredis';
import { createServiceTitanClient, type ServiceTitanClient } from '../../src';
import { RedisRateLimitStore } from '../../src/redis';
import { holdEventLoop } from '../helpers/hold-event-loop';
import { describeWithRedis, useRedisServer } from '../helpers/redis-server';
import { NO_429S, SandboxProcess, rateLimitedWithLateness } from '../helpers/sandbox-process';
import { quitWorkers, useSandboxFleet } from '../helpers/sandbox-fleet';
import { fleetEnv, warningsOf, type WorkerProcess } from '../helpers/worker-process';

// A fleet's budget when its processes are starved of CPU: on an oversubscribed machine the OS
// stops a process for hundreds of ms at a time, anywhere, between a take and its request's write,
// or between the write and the report of its write time. Measured by bench:fleet (8 workers ×
// 1,000 tenants on 2 cores): event-loop delays up to 600 ms in the steady phase and 84 arrivals
// in one rolling second at the server, 86 429s, with no store failure at all. Here the test stops
// and resumes the workers itself (SIGSTOP/SIGCONT), in a fixed pattern, so the starvation is the
// same on a quiet and on a busy machine, and burns no CPU of its own.
const BUDGET = 60;
const WORKERS = 4;
/** Concurrent requests per worker, all for one tenant: the budget is saturated throughout. */
const LOOPS = 16;
const RUN_MS = 8_000;
const workerScript = path.join(__dirname, '..', 'fixtures', 'rate-limit-worker.ts');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describeWithRedis('RedisRateLimitStore with workers starved of CPU', () => {
  const redis = useRedisServer();
  const fleet = useSandboxFleet({ requestsPerSecond: BUDGET });
  const sandbox = () => fleet.sandbox();
  let workers: WorkerProcess[] = [];

  /** Stops and resumes each worker in turn until `done` settles; a stopped worker is always resumed. */
  async function starve(done: Promise<unknown>, stoppedMs: number, runningMs: number): Promise<void> {
    let finished = false;
    void done.finally(() => (finished = true));
    const period = stoppedMs + runningMs;
    const started = performance.now();
    while (!finished) {
      const elapsed = performance.now() - started;
      workers.forEach((worker, index) => {
        const phase = (elapsed + (index * period) / workers.length) % period;
        worker.child.kill(phase < stoppedMs ? 'SIGSTOP' : 'SIGCONT');
      });
      await sleep(20);
    }
    for (const worker of workers) worker.child.kill('SIGCONT');
  }

  // Stopped longer than a window: a take made just before a stop is answered, written and
  // reported after its place left the window. Stopped 400 of every 500 ms: most of the time,
  // in short stops, anywhere between a take and its report.
  test.each([
    { stoppedMs: 1_200, runningMs: 300 },
    { stoppedMs: 400, runningMs: 100 },
  ])(
    `${WORKERS} processes stopped $stoppedMs ms, then running $runningMs ms, in turn, one saturated tenant: ≤ ${BUDGET} arrivals in any rolling second`,
    async ({ stoppedMs, runningMs }) => {
      workers = fleet.start(workerScript, WORKERS, () => fleetEnv(sandbox().options, redis().port));
      await Promise.all(workers.map((worker) => worker.next('ready')));
      await sandbox().reset();

      for (const worker of workers) worker.send(`loop ${RUN_MS} ${LOOPS}`);
      const done = Promise.all(workers.map((worker) => worker.next('done')));
      await starve(done, stoppedMs, runningMs);
      const lines = await done;
      const stats = await sandbox().stats();
      // A warning is a fallback to the worker's own limiter: the fleet's budget then no longer holds.
      expect({ ...rateLimitedWithLateness(stats), lines, warnings: warningsOf(workers) }).toEqual({
        ...NO_429S,
        lines: lines.map(() => expect.stringMatching(/^done \d+ 0 0$/)),
        warnings: [],
      });
      expect(stats.maxArrivals).toBeLessThanOrEqual(BUDGET);
      // Saturated: the budget was used, not only kept (a second's worth at the least).
      expect(stats.count).toBeGreaterThan(BUDGET);

      expect(await quitWorkers(workers)).toEqual([]);
    },
    120_000,
  );
});

/** A store whose every take is answered `lateMs` after Redis recorded it (the process was stopped then). */
class LateAnswers extends RedisRateLimitStore {
  /** Resolves when Redis first recorded places (its answer then waits `lateMs`). */
  readonly recorded: Promise<void>;
  #recorded!: () => void;
  constructor(
    redis: Redis,
    readonly lateMs: number,
  ) {
    super(redis, { commandTimeoutMs: 5_000 });
    this.recorded = new Promise((resolve) => (this.#recorded = resolve));
  }
  override async takeMany(
    ...args: Parameters<RedisRateLimitStore['takeMany']>
  ): ReturnType<RedisRateLimitStore['takeMany']> {
    const answer = await super.takeMany(...args);
    if (answer.taken > 0) this.#recorded();
    await sleep(this.lateMs);
    return answer;
  }
}

// The first stop comes without warning: a process that ran well (no lead) is stopped between its
// take and reading the answer, longer than a window. Made deterministic: one client's takes are
// answered 1,200 ms after Redis recorded them (at t0); another client of the fleet sends 56
// requests at t0 + 400 ms (the budget's rest) and 4 more once the late places left the window
// (t0 + 1,020 ms). Before, the late client then sent its 4 at t0 + 1,200 ms: 64 arrivals in
// one rolling second at the server (every run).
describeWithRedis('a take answered later than a window, before any lateness was seen', () => {
  const redisServer = useRedisServer();
  let sandbox: SandboxProcess;
  let redis: Redis;

  beforeEach(async () => {
    sandbox = await SandboxProcess.start({ requestsPerSecond: BUDGET });
    redis = new Redis(redisServer().port, '127.0.0.1');
  }, 30_000);
  afterEach(async () => {
    await redis.quit();
    await sandbox.close();
  });

  test('its places are taken again, with a lead: ≤ 60 arrivals in any rolling second, each request sent once', async () => {
    const lateStore = new LateAnswers(redis, 1_200);
    const otherStore = new RedisRateLimitStore(redis, { commandTimeoutMs: 5_000 });
    const lateDebug: string[] = [];
    const client = (store: RedisRateLimitStore, debug?: string[]): ServiceTitanClient =>
      createServiceTitanClient({
        ...sandbox.options,
        rateLimit: { store },
        ...(debug ? { logger: { debug: (message: string) => debug.push(message) } } : {}),
      });
    const other = client(otherStore);
    const late = client(lateStore, lateDebug);
    await Promise.all([other.auth.getToken(), late.auth.getToken()]);
    await sandbox.reset();
    const get = (c: ServiceTitanClient, n: number) =>
      Promise.all(
        Array.from({ length: n }, () => c.get('/crm/v2/tenant/{tenant}/customers', { params: { pageSize: 1 } })),
      );

    const lateSent = get(late, 4);
    await lateStore.recorded;
    const t0 = performance.now();
    await sleep(400);
    const first = get(other, BUDGET - 4);
    await sleep(t0 + 1_020 - performance.now());
    const second = get(other, 4);
    const responses = [...(await lateSent), ...(await first), ...(await second)];
    await Promise.all([lateStore.close(), otherStore.close()]);

    const stats = await sandbox.stats();
    expect(responses.map((response) => response.status)).toEqual(Array(BUDGET + 4).fill(200));
    expect({ rateLimited: stats.rateLimited, count: stats.count }).toEqual({ rateLimited: 0, count: BUDGET + 4 });
    expect(stats.maxArrivals).toBeLessThanOrEqual(BUDGET);
    // Its first places were answered too late to use: it took others.
    expect(lateDebug.filter((message) => message.includes('too late to use its places'))).toHaveLength(1);
  }, 60_000);
});

// A process stopped after its take and before its request is written, for longer than a window:
// its places leave the store's window meanwhile and another process takes them. Seen in the
// SIGSTOP test above (1 run in 3 with both cores busy): a worker took 3 places, was stopped
// 1,200 ms before it wrote their requests, and another worker took the places as they left the
// window: 61 arrivals in a rolling second (in another run the stop came after the requests were
// handed to their agent, before Node wrote them). Made deterministic: this process takes 4 places
// at t0 (one store call for the first request, one for the three that queued meanwhile) and its
// event loop is held 1,200 ms where axios creates the second request (its transport), or where
// the agent is handed it, before any of the three is written. A worker, sent its timeline when the first request is created, sends the
// budget's other 56 at t0 + 400 ms, and 4 more 400 ms after those are answered: they get places
// once this process's have left the window (t0 + 1,040 ms). Before, this process then wrote its
// three at t0 + 1,200 ms: 63 arrivals in one rolling second, 3 429s.
describeWithRedis('a request whose process stopped between its take and its write', () => {
  const redisServer = useRedisServer();
  const fleet = useSandboxFleet({ requestsPerSecond: BUDGET });
  let redis: Redis;
  beforeEach(() => {
    redis = new Redis(redisServer().port, '127.0.0.1');
  });
  afterEach(async () => {
    await redis.quit();
  });

  test.each(['in axios, before the request is created', 'in its agent, once it is created'])(
    'held %s: takes a new place before it is written, ≤ 60 arrivals in any rolling second',
    async (where) => {
      const sandbox = fleet.sandbox();
      const [other] = fleet.start(workerScript, 1, () => fleetEnv(sandbox.options, redisServer().port));
      const store = new RedisRateLimitStore(redis, { commandTimeoutMs: 5_000 });
      let held = false;
      let requestsCreated = 0;
      const created = () => {
        requestsCreated += 1;
        if (held && requestsCreated === 1) {
          for (const line of ['sleep 400', `go ${BUDGET - 4}`, 'sleep 400', 'go 4']) other!.send(line);
        }
      };
      const holdAtSecond = () => {
        if (held && requestsCreated === 2) holdEventLoop(1_200);
      };
      const agent = agentWithHook(() => {
        if (where.startsWith('in its agent')) holdAtSecond();
      });
      const stopped = createServiceTitanClient({
        ...sandbox.options,
        rateLimit: { store },
        axios: {
          httpAgent: agent,
          transport: {
            request: (options: http.RequestOptions, callback: (response: http.IncomingMessage) => void) => {
              created();
              if (where.startsWith('in axios')) holdAtSecond();
              return http.request(options, callback);
            },
          },
        },
      });
      const fourRequests = () =>
        Promise.all(
          Array.from({ length: 4 }, () =>
            stopped.get('/crm/v2/tenant/{tenant}/customers', { params: { pageSize: 1 } }),
          ),
        );
      // Four keep-alive connections, so that every request is written as soon as it is created;
      // then their places leave the window.
      await Promise.all([other!.next('ready'), fourRequests()]);
      await sleep(1_100);
      await sandbox.reset();

      [held, requestsCreated] = [true, 0];
      const responses = await fourRequests();
      const lines = [await other!.next('done'), await other!.next('done')];
      await store.close();
      const stats = await sandbox.stats();

      expect(responses.map((response) => response.status)).toEqual([200, 200, 200, 200]);
      expect({ ...rateLimitedWithLateness(stats), lines, count: stats.count }).toEqual({
        ...NO_429S,
        lines: [`done ${BUDGET - 4} 0 0`, 'done 4 0 0'],
        count: BUDGET + 4,
      });
      expect(stats.maxArrivals).toBeLessThanOrEqual(BUDGET);
      expect(requestsCreated).toBe(4);
      expect(await quitWorkers([other!])).toEqual([]);
      agent.destroy();
    },
    60_000,
  );

  // The same stop for a redirect hop: follow-redirects creates the hop in the first answer's
  // `response` listener, the hop takes its place (t0), and this process's event loop is held 1,200
  // ms where its agent is handed the hop, before the hop is written. The worker sends the budget's
  // other 58 at t0 + 400 ms (the first request and the hop hold 2), and 2 more 400 ms after those
  // are answered: they get the first request's and the hop's places once those leave the window
  // (t0 + 1,050 ms). Before, a hop was looked at only when it took its place, and this process then
  // wrote it at t0 + 1,200 ms: 61 arrivals in one rolling second, and a 429.
  test('a redirect hop held in its agent after its take: takes a new place before it is written, ≤ 60 arrivals in any rolling second', async () => {
    const sandbox = fleet.sandbox();
    const [other] = fleet.start(workerScript, 1, () => fleetEnv(sandbox.options, redisServer().port));
    const store = new RedisRateLimitStore(redis, { commandTimeoutMs: 5_000 });
    let held = false;
    let handedToAgent = 0;
    // A hop is handed to its agent once it has its place.
    const agent = agentWithHook(() => {
      handedToAgent += 1;
      if (held && handedToAgent === 1) {
        for (const line of ['sleep 400', `go ${BUDGET - 2}`, 'sleep 400', 'go 2']) other!.send(line);
      }
      if (held && handedToAgent === 2) holdEventLoop(1_200);
    });
    const client = createServiceTitanClient({ ...sandbox.options, rateLimit: { store }, axios: { httpAgent: agent } });
    const redirected = () => client.get(`/sandbox/v1/tenant/${sandbox.options.tenantId}/redirect-once`);
    // Two keep-alive connections, so that the hop is written as soon as the agent has it (the
    // first request's socket is still busy with the 307); then their places leave the window.
    await Promise.all([other!.next('ready'), redirected(), redirected()]);
    await sleep(1_100);
    await sandbox.reset();

    [held, handedToAgent] = [true, 0];
    const response = await redirected();
    const lines = [await other!.next('done'), await other!.next('done')];
    await store.close();
    const stats = await sandbox.stats();

    expect({ status: response.status, redirected: response.data.query['redirected'] }).toEqual({
      status: 200,
      redirected: '1',
    });
    expect({ ...rateLimitedWithLateness(stats), lines, count: stats.count }).toEqual({
      ...NO_429S,
      lines: [`done ${BUDGET - 2} 0 0`, 'done 2 0 0'],
      count: BUDGET + 2,
    });
    expect(stats.maxArrivals).toBeLessThanOrEqual(BUDGET);
    expect(handedToAgent).toBe(2);
    expect(await quitWorkers([other!])).toEqual([]);
    agent.destroy();
  }, 60_000);
});

/** A keep-alive agent that calls `beforeHandOn` with each request Node hands it (its undocumented `addRequest`). */
function agentWithHook(beforeHandOn: () => void): http.Agent {
  const agent = new http.Agent({ keepAlive: true }) as http.Agent & {
    addRequest(request: http.ClientRequest, options: unknown): void;
  };
  const handOn = agent.addRequest.bind(agent);
  agent.addRequest = (request, options) => {
    beforeHandOn();
    handOn(request, options);
  };
  return agent;
}
