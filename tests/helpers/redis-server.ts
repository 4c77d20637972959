import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import net from 'node:net';

/** A `redis-server` child process on 127.0.0.1 (not daemonized: it dies with `stop()`). */
export interface RedisServer {
  readonly port: number;
  readonly url: string;
  /** Whether the server is running. */
  readonly running: boolean;
  /** Kills the server (SIGKILL: an outage, not a shutdown). */
  stop(): Promise<void>;
  /** Starts it again on the same port, empty (no persistence). */
  restart(): Promise<void>;
}

/** True when the `redis-server` binary can be run. */
export const redisServerAvailable: boolean =
  spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).error === undefined;

/** A port nobody listens on right now. */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Starts `redis-server --port <free port> --save '' --appendonly no` and waits until it accepts connections. */
export async function startRedisServer(port?: number): Promise<RedisServer> {
  const chosen = port ?? (await freePort());
  let child: ChildProcess | undefined = await launch(chosen);
  const server: RedisServer = {
    port: chosen,
    url: `redis://127.0.0.1:${chosen}`,
    get running() {
      return child !== undefined;
    },
    async stop() {
      const running = child;
      child = undefined;
      if (running === undefined || running.exitCode !== null) return;
      const exited = new Promise((resolve) => running.once('exit', resolve));
      running.kill('SIGKILL');
      await exited;
    },
    async restart() {
      await server.stop();
      child = await launch(chosen);
    },
  };
  return server;
}

function launch(port: number): Promise<ChildProcess> {
  return launchRedisProcess(
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no'],
    `port ${port}`,
  );
}

/**
 * Spawns `redis-server <args>` (not daemonized) and resolves once it accepts connections;
 * bounded: 10 s, or it is killed and this rejects with its log. Sentinels (`--sentinel`) too.
 */
export async function launchRedisProcess(args: string[], what: string): Promise<ChildProcess> {
  const child = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => fail(new Error(`redis-server (${what}) did not start:\n${output}`)), 10_000);
    const fail = (error: Error) => {
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(error);
    };
    child.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      // A sentinel says "Sentinel ID is …" once it runs; a server, that it accepts connections.
      if (/Ready to accept connections|Sentinel ID is/.test(output)) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('error', fail);
    child.once('exit', (code) => fail(new Error(`redis-server exited with ${String(code)}:\n${output}`)));
  });
  child.stdout?.resume();
  child.stderr?.resume();
  return child;
}

/**
 * `describe` when `redis-server` is installed. Without it the suite is skipped with a visible
 * notice, except on CI (`CI` set), where a missing Redis is an error: CI must run these tests.
 */
export function describeWithRedis(name: string, body: () => void): void {
  if (redisServerAvailable) {
    describe(name, body);
    return;
  }
  if (process.env.CI) {
    throw new Error(
      `redis-server is not installed, but CI is set: the Redis tests ("${name}") must run on CI (apt-get install -y redis-server)`,
    );
  }
  // eslint-disable-next-line no-console
  console.warn(`SKIPPED "${name}": redis-server is not installed (apt-get install -y redis-server to run it)`);
  describe.skip(name, body);
}

/** Starts a Redis server before the suite and kills it after; returns a getter. */
export function useRedisServer(): () => RedisServer {
  let server: RedisServer | undefined;
  beforeAll(async () => {
    server = await startRedisServer();
  });
  afterAll(async () => {
    await server?.stop();
  });
  return () => {
    if (server === undefined) throw new Error('the Redis server is only available inside a test');
    return server;
  };
}
