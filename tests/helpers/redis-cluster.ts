import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { freePort, launchRedisProcess, redisServerAvailable } from './redis-server';

/** A real Redis Cluster of `redis-server` children on 127.0.0.1: masters only, all slots covered. */
export interface RedisCluster {
  /** `{ host, port }` of every master, the shape ioredis's `new Cluster(nodes)` takes. */
  readonly nodes: readonly { host: string; port: number }[];
  /** Kills every node (SIGKILL) and removes their working directories. */
  stop(): Promise<void>;
}

/** True when both `redis-server` and `redis-cli` (which creates the cluster) can be run. */
export const redisClusterAvailable: boolean =
  redisServerAvailable && spawnSync('redis-cli', ['--version'], { stdio: 'ignore' }).error === undefined;

/**
 * Starts `masters` cluster-enabled `redis-server`s (each in a temporary directory of its own, for
 * its `nodes.conf`), joins them ({@link joinCluster}) and waits until every node knows every other
 * and reports `cluster_state:ok`. Bounded: 10 s for the join, or it throws.
 */
export async function startRedisCluster(masters = 3): Promise<RedisCluster> {
  const directory = await mkdtemp(path.join(os.tmpdir(), 'st-redis-cluster-'));
  const children: ChildProcess[] = [];
  const nodes: { host: string; port: number }[] = [];
  const stop = async () => {
    await Promise.all(children.map(kill));
    await rm(directory, { recursive: true, force: true });
  };
  try {
    for (let index = 0; index < masters; index++) {
      const port = await freePort();
      children.push(await launchNode(port, directory));
      nodes.push({ host: '127.0.0.1', port });
    }
    await joinCluster(nodes);
    return { nodes, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

const CLUSTER_SLOTS = 16_384;
/** How long a join may go without every node knowing every other before the meetings are repeated. */
const MEET_AGAIN_AFTER_MS = 2_000;

/**
 * Joins the nodes into one cluster of masters: each takes an equal range of the slots and a config
 * epoch of its own, then meets every other node directly. Not `redis-cli --cluster create`: it
 * has every node meet the first one only, so the others learn of each other through gossip, which
 * on a machine with both cores busy once took over 10 s (a suite's `beforeAll` failed); and it
 * looks once a second. Meeting every pair needs no gossip to converge. A handshake that does not
 * complete (a node starved of CPU) is dropped by Redis, not retried: the meetings are repeated
 * until every node knows every other.
 */
async function joinCluster(nodes: readonly { host: string; port: number }[]): Promise<void> {
  const clients = nodes.map(({ host, port }) => new Redis(port, host, { maxRetriesPerRequest: 1 }));
  try {
    await Promise.all(
      clients.map(async (client, index) => {
        const from = Math.floor((index * CLUSTER_SLOTS) / nodes.length);
        const to = Math.floor(((index + 1) * CLUSTER_SLOTS) / nodes.length) - 1;
        await client.call('CLUSTER', 'ADDSLOTSRANGE', from, to);
        // Distinct epochs, set before the node knows any other (Redis refuses it after).
        await client.call('CLUSTER', 'SET-CONFIG-EPOCH', index + 1);
      }),
    );
    const meetEveryOther = () =>
      Promise.all(
        clients.flatMap((client, index) =>
          nodes
            .filter((_, other) => other !== index)
            .map(({ host, port }) => client.call('CLUSTER', 'MEET', host, port)),
        ),
      );
    await meetEveryOther();
    let metAt = Date.now();
    await waitUntil(async () => {
      const infos = (await Promise.all(clients.map((client) => client.call('CLUSTER', 'INFO')))) as string[];
      const joined = infos.every(
        (info) => info.includes('cluster_state:ok') && info.includes(`cluster_known_nodes:${nodes.length}\r\n`),
      );
      if (!joined && Date.now() - metAt > MEET_AGAIN_AFTER_MS) {
        await meetEveryOther();
        metAt = Date.now();
      }
      return joined;
    }, 'every node to know every other and report cluster_state:ok');
  } finally {
    for (const client of clients) client.disconnect();
  }
}

function launchNode(port: number, directory: string): Promise<ChildProcess> {
  return launchRedisProcess(
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--cluster-enabled',
      'yes',
      '--cluster-config-file',
      `nodes-${port}.conf`,
      '--dir',
      directory,
      '--save',
      '',
      '--appendonly',
      'no',
      '--daemonize',
      'no',
    ],
    `cluster node on ${port}`,
  );
}

export async function kill(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
}

export function run(command: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${command} ${args.join(' ')} took over 10 s:\n${output}`));
    }, 10_000);
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('error', reject);
    child.once('exit', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(output);
      else reject(new Error(`${command} ${args.join(' ')} exited with ${String(code)}:\n${output}`));
    });
  });
}

export async function waitUntil(check: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after 10 s waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * `describe` when a cluster can be started. Without `redis-server` the suite is skipped with a
 * visible notice, except on CI (`CI` set), where that is an error: CI must run these tests.
 */
export function describeWithRedisCluster(name: string, body: () => void): void {
  if (redisClusterAvailable) {
    describe(name, body);
    return;
  }
  if (process.env.CI) {
    throw new Error(
      `redis-server/redis-cli are not installed, but CI is set: the Redis Cluster tests ("${name}") must run`,
    );
  }
  // eslint-disable-next-line no-console
  console.warn(`SKIPPED "${name}": redis-server/redis-cli are not installed (apt-get install -y redis-server)`);
  describe.skip(name, body);
}

/** Starts a 3-master cluster before the suite and stops it after; returns a getter. */
export function useRedisCluster(): () => RedisCluster {
  let cluster: RedisCluster | undefined;
  beforeAll(async () => {
    cluster = await startRedisCluster();
  }, 30_000);
  afterAll(async () => {
    await cluster?.stop();
  });
  return () => {
    if (cluster === undefined) throw new Error('the Redis Cluster is only available inside a test');
    return cluster;
  };
}
