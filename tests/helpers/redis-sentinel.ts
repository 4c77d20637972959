import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { kill, redisClusterAvailable, run, waitUntil } from './redis-cluster';
import { freePort, launchRedisProcess } from './redis-server';

/** The master name the sentinels monitor. */
export const SENTINEL_MASTER_NAME = 'st-master';

/** A real Sentinel set-up on 127.0.0.1: one master, one replica, `sentinels` sentinels (quorum 1). */
export interface RedisSentinel {
  /** `{ host, port }` of every sentinel, the shape ioredis's `{ sentinels, name }` takes. */
  readonly sentinels: readonly { host: string; port: number }[];
  readonly name: string;
  /** The port of the current master, as the sentinels report it. */
  masterPort(): Promise<number>;
  /**
   * Makes the replica the master (`SENTINEL FAILOVER`, no agreement needed) and waits, bounded,
   * until the sentinels report the new master. The old master is told to follow it only once a
   * sentinel looks at it again (its INFO, every 10 s): until then it still answers as a master,
   * so clients must learn of the switch from the sentinels (ioredis `failoverDetector: true`).
   */
  failover(): Promise<void>;
  /** Kills every process (SIGKILL) and removes the working directory. */
  stop(): Promise<void>;
}

/**
 * Starts a master, a replica of it and `sentinels` sentinels (`redis-server --sentinel`, which the
 * Debian redis-server package can run), and waits until the sentinels know the replica, so a
 * failover can be asked for. Bounded: 10 s per step, or it throws with the logs.
 */
export async function startRedisSentinel(sentinels = 1): Promise<RedisSentinel> {
  const directory = await mkdtemp(path.join(os.tmpdir(), 'st-redis-sentinel-'));
  const children: ChildProcess[] = [];
  const stop = async () => {
    await Promise.all(children.map(kill));
    await rm(directory, { recursive: true, force: true });
  };
  const common = ['--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', directory];
  try {
    const master = await freePort();
    children.push(await launchRedisProcess(['--port', String(master), ...common], `master on ${master}`));
    const replica = await freePort();
    children.push(
      await launchRedisProcess(
        ['--port', String(replica), ...common, '--replicaof', '127.0.0.1', String(master)],
        `replica on ${replica}`,
      ),
    );
    await waitUntil(
      async () =>
        (await run('redis-cli', ['-p', String(replica), 'info', 'replication'])).includes('master_link_status:up'),
      'the replica to be in sync',
    );
    const nodes: { host: string; port: number }[] = [];
    for (let index = 0; index < sentinels; index += 1) {
      const port = await freePort();
      // A sentinel rewrites its configuration file: one each, in the working directory.
      const config = path.join(directory, `sentinel-${port}.conf`);
      await writeFile(
        config,
        [
          `port ${port}`,
          'bind 127.0.0.1',
          `sentinel monitor ${SENTINEL_MASTER_NAME} 127.0.0.1 ${master} 1`,
          `sentinel down-after-milliseconds ${SENTINEL_MASTER_NAME} 1000`,
          `sentinel failover-timeout ${SENTINEL_MASTER_NAME} 5000`,
          '',
        ].join('\n'),
      );
      children.push(await launchRedisProcess([config, '--sentinel'], `sentinel on ${port}`));
      nodes.push({ host: '127.0.0.1', port });
    }
    const ask = (port: number, ...args: string[]) => run('redis-cli', ['-p', String(port), 'sentinel', ...args]);
    await waitUntil(async () => {
      const known = await Promise.all(nodes.map(({ port }) => ask(port, 'replicas', SENTINEL_MASTER_NAME)));
      return known.every((answer) => answer.includes(String(replica)));
    }, 'every sentinel to know the replica');
    const masterPort = async () =>
      Number((await ask(nodes[0]!.port, 'get-master-addr-by-name', SENTINEL_MASTER_NAME)).trim().split('\n')[1]);
    return {
      sentinels: nodes,
      name: SENTINEL_MASTER_NAME,
      masterPort,
      async failover() {
        const before = await masterPort();
        await ask(nodes[0]!.port, 'failover', SENTINEL_MASTER_NAME);
        await waitUntil(async () => (await masterPort()) !== before, 'the sentinels to promote the replica');
      },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** `describe` when Sentinel can be started: like {@link describeWithRedisCluster}, same binaries. */
export function describeWithRedisSentinel(name: string, body: () => void): void {
  if (redisClusterAvailable) {
    describe(name, body);
    return;
  }
  if (process.env.CI) {
    throw new Error(`redis-server/redis-cli are not installed, but CI is set: the Sentinel tests ("${name}") must run`);
  }
  // eslint-disable-next-line no-console
  console.warn(`SKIPPED "${name}": redis-server/redis-cli are not installed (apt-get install -y redis-server)`);
  describe.skip(name, body);
}

/** Starts a Sentinel set-up before the suite and stops it after; returns a getter. */
export function useRedisSentinel(sentinels = 1): () => RedisSentinel {
  let setup: RedisSentinel | undefined;
  beforeAll(async () => {
    setup = await startRedisSentinel(sentinels);
  }, 40_000);
  afterAll(async () => {
    await setup?.stop();
  });
  return () => {
    if (setup === undefined) throw new Error('the Sentinel set-up is only available inside a test');
    return setup;
  };
}
