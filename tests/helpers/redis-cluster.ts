import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
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
 * its `nodes.conf`), joins them with `redis-cli --cluster create --cluster-replicas 0` and waits
 * until every node reports `cluster_state:ok`. Bounded: 20 s in all, or it throws with the logs.
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
    await run('redis-cli', [
      '--cluster',
      'create',
      ...nodes.map(({ host, port }) => `${host}:${port}`),
      '--cluster-replicas',
      '0',
      '--cluster-yes',
    ]);
    await waitUntil(async () => {
      const states = await Promise.all(
        nodes.map(({ port }) => run('redis-cli', ['-p', String(port), 'cluster', 'info'])),
      );
      return states.every((info) => info.includes('cluster_state:ok'));
    }, 'every node to report cluster_state:ok');
    return { nodes, stop };
  } catch (error) {
    await stop();
    throw error;
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
