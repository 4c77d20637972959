import type { Cluster, Redis } from 'ioredis';

/** The commands that run a Lua script or a Redis function (what RedisRateLimitStore costs Redis). */
const SCRIPT_COMMANDS = new Set(['eval', 'evalsha', 'eval_ro', 'evalsha_ro', 'fcall', 'fcall_ro']);

/**
 * Script calls a Redis server (or every master of a Cluster) has run since it started or since
 * `CONFIG RESETSTAT`: the sum of `calls=` of EVAL, EVALSHA, FCALL (and their `_RO` forms) in
 * `INFO commandstats`. Read it before and after a run and divide the difference by the requests
 * the API server counted: script calls per API request.
 *
 *   redis-cli -p 6379 INFO commandstats | grep -E 'cmdstat_(eval|evalsha|fcall)(_ro)?:'
 */
export async function scriptCalls(redis: Redis | Cluster): Promise<number> {
  const nodes = 'nodes' in redis && typeof redis.nodes === 'function' ? redis.nodes('master') : [redis as Redis];
  let calls = 0;
  for (const node of nodes) {
    const info = await node.info('commandstats');
    for (const match of info.matchAll(/^cmdstat_([a-z_|]+):calls=(\d+)/gm)) {
      if (SCRIPT_COMMANDS.has(match[1]!)) calls += Number(match[2]);
    }
  }
  return calls;
}
