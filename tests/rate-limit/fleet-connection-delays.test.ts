import path from 'node:path';
import { describeWithRedis, useRedisServer } from '../helpers/redis-server';
import { quitWorkers, useSandboxFleet } from '../helpers/sandbox-fleet';
import { NO_429S, rateLimitedWithLateness } from '../helpers/sandbox-process';
import { fleetEnv, type WorkerProcess } from '../helpers/worker-process';

// A fleet's budget when connections are slow to set up (a distant API: DNS, TCP, TLS). A request
// let through on a new connection is written CONNECT_DELAY_MS later and counts from then (its
// place is marked sent); the Redis key that holds it must outlive it by a whole window. Before
// the fix the key's TTL ran from the take, not from the mark: it expired CONNECT_DELAY_MS before
// the last request it counted left the server's window, and a process with warm connections that
// asked in that gap went at once (429s here: up to 70 arrivals in one rolling second; 120 with 60
// warm sockets, as issue 18 measured with 300 ms set-up).
//
// The scenario, per pair of processes: a cold one (no connection yet) fires a window's worth at
// once: they all wait CONNECT_DELAY_MS for their connections and arrive together. A warm one (it
// opened WARM_SOCKETS connections earlier) fires STAGGER_MS later: after the window that counts
// from the cold one's take has passed, before the one that counts from its arrivals has.
// Every process has the same slow set-up for each new connection; only their start times and
// their pools differ. The sandbox counts arrivals per rolling second, like ServiceTitan.
const BUDGET = 60;
const CONNECT_DELAY_MS = 500;
/**
 * After the window that counts from the cold process's takes (1040 ms with the default margin,
 * plus the ~tens of ms its 60 takes take on a busy machine), well before the one that counts from
 * its arrivals (CONNECT_DELAY_MS + 1040 ms): the gap is ~400 ms wide, so a busy machine's delays
 * (tens of ms) neither close it nor move the warm process out of it.
 */
const STAGGER_MS = 1_250;
/** A warm process's open connections: each of them would put one more arrival in the cold one's second. */
const WARM_SOCKETS = 10;
const workerScript = path.join(__dirname, '..', 'fixtures', 'rate-limit-worker.ts');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function go(worker: WorkerProcess, n: number): Promise<string> {
  worker.send(`go ${n}`);
  return worker.next('done');
}

describeWithRedis('RedisRateLimitStore with slow connection set-up and staggered starts', () => {
  const redis = useRedisServer();
  const fleet = useSandboxFleet({ requestsPerSecond: BUDGET });
  const sandbox = () => fleet.sandbox();
  let workers: WorkerProcess[] = [];

  async function run(pairs: number): Promise<void> {
    workers = fleet.start(workerScript, 2 * pairs, () => ({
      ...fleetEnv(sandbox().options, redis().port),
      FLEET_CONNECT_DELAY_MS: String(CONNECT_DELAY_MS),
    }));
    await Promise.all(workers.map((worker) => worker.next('ready')));
    const cold = workers.filter((_, i) => i % 2 === 0);
    const warm = workers.filter((_, i) => i % 2 === 1);
    // Opens the warm processes' connections (the sandbox keeps idle ones for far longer than
    // this test), then lets the window empty.
    for (const worker of warm) await go(worker, WARM_SOCKETS);
    await sleep(1_500);
    await sandbox().reset();

    const done: Promise<string>[] = [];
    for (let pair = 0; pair < pairs; pair += 1) {
      const coldDone = go(cold[pair]!, BUDGET);
      done.push(coldDone);
      await sleep(STAGGER_MS);
      const warmDone = go(warm[pair]!, BUDGET);
      done.push(warmDone);
      // The next pair starts once this one is through: each pair is the same race.
      await Promise.all([coldDone, warmDone]);
    }
    const stats = await sandbox().stats();
    expect(await Promise.all(done)).toEqual(Array(2 * pairs).fill(`done ${BUDGET} 0 0`));
    expect(rateLimitedWithLateness(stats)).toEqual(NO_429S);
    expect(stats.maxArrivals).toBeLessThanOrEqual(BUDGET);
    expect(stats.count).toBe(2 * pairs * BUDGET);

    expect(await quitWorkers(workers)).toEqual([]);
  }

  test(`2 processes, ${CONNECT_DELAY_MS} ms per new connection, the second ${STAGGER_MS} ms after the first: ≤ ${BUDGET} arrivals in any rolling second`, async () => {
    await run(1);
  }, 60_000);

  test(`8 processes, ${CONNECT_DELAY_MS} ms per new connection, started in 4 staggered pairs: ≤ ${BUDGET} arrivals in any rolling second`, async () => {
    await run(4);
  }, 120_000);
});
