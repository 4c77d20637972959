/**
 * What one Redis core serves of the rate-limit store's scripts: RedisRateLimitStore's take +
 * markSent for many tenants (one key each, under budget), from `--connections` ioredis
 * connections with `--loops` requests in flight each, for `--seconds`, against a fresh
 * redis-server. Script calls per second of Redis CPU (INFO cpu, sys + user) is the figure the
 * fleet sizing in docs/fleet-sizing.md divides by.
 *
 *   node --import tsx bench/redis-core.ts [--connections=4] [--loops=32] [--seconds=8]
 */
import { Redis } from 'ioredis';
import { RedisRateLimitStore } from '../src/redis';
import { startRedisServer } from '../tests/helpers/redis-server';

function flag(name: string, fallback: number): number {
  const found = process.argv.find((arg) => arg.startsWith(`--${name}=`));
  return found === undefined ? fallback : Number(found.slice(name.length + 3));
}

async function cpuAndScripts(redis: Redis): Promise<{ cpu: number; scripts: number }> {
  const info = `${await redis.info('cpu')}\n${await redis.info('commandstats')}`;
  let cpu = 0;
  let scripts = 0;
  for (const line of info.split(/\r?\n/)) {
    const used = /^used_cpu_(sys|user):([\d.]+)/.exec(line);
    if (used !== null) cpu += Number(used[2]);
    const calls = /^cmdstat_(eval|evalsha|fcall)(_ro)?:calls=(\d+)/.exec(line);
    if (calls !== null) scripts += Number(calls[3]);
  }
  return { cpu, scripts };
}

const connections = flag('connections', 4);
const loops = flag('loops', 32);
const seconds = flag('seconds', 8);
const server = await startRedisServer();
const clients = Array.from({ length: connections }, () => new Redis(server.url));
const admin = new Redis(server.url);
try {
  const stores = clients.map((client) => new RedisRateLimitStore(client));
  const before = await cpuAndScripts(admin);
  const from = performance.now();
  const until = from + seconds * 1000;
  let requests = 0;
  let tenant = 0;
  await Promise.all(
    stores.flatMap((store) =>
      Array.from({ length: loops }, async () => {
        while (performance.now() < until) {
          // 5,000 tenants, each far under its budget: every take is granted at once.
          const key = `tenant-${(tenant = (tenant + 1) % 5000)}`;
          const id = `${requests}`;
          await store.take(key, 60, 1040, id);
          await store.markSent(key, id);
          requests += 1;
        }
      }),
    ),
  );
  const wall = (performance.now() - from) / 1000;
  const after = await cpuAndScripts(admin);
  const cpu = after.cpu - before.cpu;
  const scripts = after.scripts - before.scripts;
  console.log(
    JSON.stringify({
      connections,
      loops,
      seconds: Number(wall.toFixed(1)),
      requests,
      scriptCalls: scripts,
      redisCpuSeconds: Number(cpu.toFixed(2)),
      redisCpuShareOfWall: Number((cpu / wall).toFixed(2)),
      scriptCallsPerRedisCpuSecond: Math.round(scripts / cpu),
      requestsPerRedisCpuSecond: Math.round(requests / cpu),
    }),
  );
} finally {
  for (const client of [...clients, admin]) client.disconnect();
  await server.stop();
}
