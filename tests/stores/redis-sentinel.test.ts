import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { Redis } from 'ioredis';
import { RedisTokenStore } from '../../src/redis';
import { run } from '../helpers/redis-cluster';
import { describeWithRedisSentinel, useRedisSentinel } from '../helpers/redis-sentinel';
import { useSandbox } from '../helpers/sandbox';
import { clientEnv, startWorkerProcess, warningsOf, type WorkerProcess } from '../helpers/worker-process';
import { tokenStoreContract } from './contract';

const workerScript = path.join(__dirname, '..', 'fixtures', 'fleet-worker.ts');
const encryptionKey = randomBytes(32);

/** Whether `condition` came true within `boundMs` (checked every 50 ms). */
async function eventually(condition: () => Promise<boolean>, boundMs = 10_000): Promise<boolean> {
  const end = performance.now() + boundMs;
  while (!(await condition().catch(() => false))) {
    if (performance.now() > end) return false;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return true;
}

// Issue 18 item 4: both stores behind Redis Sentinel (ioredis `new Redis({ sentinels, name })`),
// through a failover.
describeWithRedisSentinel('RedisTokenStore and RedisRateLimitStore with Redis Sentinel', () => {
  const sentinel = useRedisSentinel(1);

  describe('the contract', () => {
    // Views are stores on connected clients whose pub/sub is in place, as in a running fleet
    // (the contract gives a new view 100 ms to start listening).
    const views: RedisTokenStore[] = [];
    const connected: Redis[] = [];
    beforeAll(async () => {
      for (let index = 0; index < 3; index += 1) {
        const client = new Redis({ sentinels: [...sentinel().sentinels], name: sentinel().name });
        client.on('error', () => undefined);
        connected.push(client);
        const store = new RedisTokenStore(client, { encryptionKey, commandTimeoutMs: 2_000 });
        views.push(store);
        // Resolves once its SUBSCRIBE is in place (the token is read after subscribing).
        const now = Date.now();
        await store.set('warm-up', { accessToken: 'tok-warm-up', obtainedAt: now, expiresAt: now + 60_000 });
        await store.waitForToken('warm-up', { timeoutMs: 10_000 });
      }
    }, 30_000);
    afterAll(async () => {
      await Promise.all(views.splice(0).map((store) => store.close()));
      for (const client of connected.splice(0)) client.disconnect();
    });
    let next = 0;
    tokenStoreContract('RedisTokenStore through Sentinel', () => views[(next += 1) % views.length]!);
  });

  describe('a failover', () => {
    const sandbox = useSandbox();
    let workers: WorkerProcess[] = [];
    afterEach(() => {
      for (const worker of workers) if (worker.child.exitCode === null) worker.child.kill('SIGKILL');
      workers = [];
    });

    /**
     * One process of the fleet (tests/fixtures/fleet-worker.ts): its own Sentinel client with
     * `failoverDetector: true`, both Redis stores, a ServiceTitan client.
     */
    const join = async () => {
      const worker = startWorkerProcess(workerScript, {
        ...clientEnv(sandbox().clientOptions, 'FLEET_'),
        FLEET_REDIS_SENTINELS: sentinel()
          .sentinels.map(({ host, port }) => `${host}:${port}`)
          .join(','),
        FLEET_REDIS_SENTINEL_NAME: sentinel().name,
        FLEET_RATE_LIMIT: 'redis',
      });
      workers.push(worker);
      await worker.next('ready');
      return worker;
    };
    const round = (members: WorkerProcess[], perMember: number) => {
      for (const member of members) member.send(`go ${perMember}`);
      return Promise.all(members.map((member) => member.next('done')));
    };
    /** The fleet's connections to the Redis on `port` (not the sentinels', the replica's or ours). */
    const fleetConnections = async (port: number) =>
      (await run('redis-cli', ['-p', String(port), 'client', 'list']))
        .trim()
        .split('\n')
        .filter((line) => / name= /.test(line) && !/ flags=\S*[SM]/.test(line) && !/ cmd=client\|list /.test(line))
        .length;
    /** The worker's exit code, or 'still running' if it has not exited `boundMs` after the call. */
    const exitCodeWithin = async (worker: WorkerProcess, boundMs: number) => {
      let timer: NodeJS.Timeout | undefined;
      const bound = new Promise<string>((resolve) => {
        timer = setTimeout(() => resolve('still running'), boundMs);
      });
      try {
        return await Promise.race([worker.exited, bound]);
      } finally {
        clearTimeout(timer);
      }
    };

    // Each member is a process of its own so that what a process leaves open after close shows as
    // a process that does not exit: with `failoverDetector: true` (failover or not), the store's
    // pub/sub connection used to leave its connections to the sentinels open after close() (it
    // was quit(), which ioredis before 6.1.0 does not extend to the detector: ioredis issue
    // #1362), and the process, a user's cron job as much as Jest, never exited.
    // Three worker processes start (tsx) and a failover runs: 9-13 s on this machine at load
    // average 9, 21-35 s with both cores busy as well (load average 12-13); hence 90 s.
    test('the fleet shares one token before and after; the new master holds it; no request fails; every process exits after close', async () => {
      const [a, b] = await Promise.all([join(), join()]);
      expect(await round([a, b], 10)).toEqual(Array(2).fill('done 10 0'));
      expect(warningsOf([a, b])).toEqual([]);
      expect(sandbox().token.count).toBe(1);
      const before = await sentinel().masterPort();
      // The replica has the entry before it is promoted (replication is asynchronous, in order:
      // a write acknowledged after the fleet's acknowledges theirs).
      const master = new Redis(before, '127.0.0.1');
      try {
        await master.set('st-test:replicated', '1');
        expect(await master.wait(1, 5_000)).toBe(1);
      } finally {
        master.disconnect();
      }

      await sentinel().failover();
      const after = await sentinel().masterPort();
      expect(after).not.toBe(before);
      // Told by the sentinels (+switch-master), each process's client and its store's pub/sub
      // connection reconnect to the new master.
      expect(await eventually(async () => (await fleetConnections(after)) === 4)).toBe(true);

      // A newcomer finds the token on the new master; the others go on with theirs.
      const c = await join();
      expect(await round([a, b, c], 10)).toEqual(Array(3).fill('done 10 0'));
      expect(warningsOf([a, b, c])).toEqual([]);
      expect(sandbox().token.count).toBe(1);

      // A revocation hitting the whole fleet after the failover: one renewal, the waiters told
      // through pub/sub on the new master.
      sandbox().revokeAllTokens();
      expect(await round([a, b, c], 10)).toEqual(Array(3).fill('done 10 0'));
      expect(warningsOf([a, b, c])).toEqual([]);
      expect(sandbox().token.count).toBe(2);

      // Closing the stores and the client as the docs say is all it takes for a process to exit,
      // with the sentinels still running. It takes milliseconds; 10 s is for a loaded machine.
      for (const member of [a, b, c]) member.send('quit');
      expect(await Promise.all([a, b, c].map((member) => exitCodeWithin(member, 10_000)))).toEqual([0, 0, 0]);
      // ioredis's own connection errors while it follows the failover are expected, warnings not.
      const unexpected = [a, b, c].flatMap(({ output }) =>
        output.filter((line) => !/^(ready|done|bye|redis-error)/.test(line)),
      );
      expect(unexpected).toEqual([]);
    }, 90_000);
  });
});
