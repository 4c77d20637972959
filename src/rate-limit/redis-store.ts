import { randomBytes } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import { invalidConfig } from '../errors';
import { commandBounds, withCommandTimeout, type CommandBounds } from '../stores/command-timeout';
import { msOption } from '../timer-limits';
import { clusterSlot } from './cluster-slot';
import { PendingReports, type PendingBudget } from './pending-reports';
import type { RateLimitStore, RateLimitTakeAnswer, WrittenRequest } from './store';

/** Options of {@link RedisRateLimitStore}. */
export interface RedisRateLimitStoreOptions {
  /**
   * Prefix of the keys: `<keyPrefix>{<budget>}` is a sorted set of send times, one per (app key,
   * tenant), and `<keyPrefix>{<budget>}:waiting` the clients waiting for a place; the budget's
   * name is a hash, so the app key never reaches Redis. `{…}` is a hash tag: on a Redis Cluster
   * a budget's keys share a slot and budgets spread over the masters (a prefix with a `{…}` of
   * its own puts every budget in one slot).
   * @default 'st-rate:'
   * @example
   * new RedisRateLimitStore(redis, { keyPrefix: 'billing-sync:rate:' });
   */
  keyPrefix?: string;
  /**
   * A command fails once Redis has been silent this long (no answer to it, nor to any other of
   * the library's commands on the same ioredis client), so an unreachable Redis makes the client
   * fall back to its own limiter instead of stalling requests, even while ioredis queues
   * commands offline.
   * @default 500
   * @example
   * new RedisRateLimitStore(redis, { commandTimeoutMs: 200 });
   */
  commandTimeoutMs?: number;
  /**
   * The longest a command waits while Redis keeps answering others: a Redis working through a
   * backlog answers late but is not down, and each timeout leaves the client alone under its own
   * limiter for a second. Equal to `commandTimeoutMs`, every command fails after that long
   * whatever Redis answers meanwhile.
   * @default the larger of 1500 and `commandTimeoutMs`
   * @example
   * new RedisRateLimitStore(redis, { maxCommandWaitMs: 3000 }); // a Redis known to lag under load
   */
  maxCommandWaitMs?: number;
}

// Records written requests, for any budget of this Redis (or of this Cluster master): the reports
// of many tenants ride on one call. ARGV[from] budgets follow, each as its key (named in ARGV, not
// KEYS, so that one call may carry budgets of other slots: on a Cluster the store sends a master
// only the budgets it serves), its TTL (ms), a count n, then n pairs of id and how many whole ms
// before now it was written (rounded down: each counts from no earlier than its write). ZADD
// without XX: a request that was written counts even if its record has gone (it cannot have, see
// SharedBudget's holds; counting what was sent is the safe side). The key's TTL then runs from
// now: it outlives the newest send time it holds by a window (ttl is three). A budget this server
// cannot write (its slot moved to another master, or a proxy refuses keys it was not told of) is
// answered by its position, and the store sends it again on a call of its own, named in KEYS.
// A negative "ms ago" is a time to come, at most two windows ahead (a request still unwritten,
// re-recorded with its client's lead: see SharedBudget); the TTL of three windows outlives it.
// Answers the index after the reports and the positions of the budgets that failed.
const RECORD_WRITTEN = `
local function recordWritten(now, from)
  local failed = {}
  local i = from + 1
  for budget = 1, tonumber(ARGV[from]) do
    local key, ttl, count = ARGV[i], tonumber(ARGV[i + 1]), tonumber(ARGV[i + 2])
    local args = {}
    for j = 1, count do
      args[2 * j - 1] = now - math.max(tonumber(ARGV[i + 2 + 2 * j]), -ttl * 2 / 3) * 1000
      args[2 * j] = ARGV[i + 1 + 2 * j]
    end
    local added = redis.pcall('ZADD', key, unpack(args))
    if type(added) == 'table' and added.err then
      failed[#failed + 1] = budget
    else
      redis.call('PEXPIRE', key, ttl)
    end
    i = i + 3 + 2 * count
  end
  return i, failed
end
`;

// A sliding-window log, atomic in one script, on Redis's clock (TIME, µs: the processes' clocks
// do not matter). KEYS[1] holds the send times (a sorted set), KEYS[2] the clients waiting for a
// place (a sorted set: member a client, score when it joined the line); both carry the budget's
// hash tag, so they live in one Cluster slot. ARGV: limit, windowMs, ttlMs, the asking client,
// its lead (ms, at most two windows: places are recorded that far ahead of now, see SharedBudget),
// the written requests to report (see RECORD_WRITTEN: this budget's and other budgets'), then the
// ids of its waiting requests, oldest first.
//
// Record the written ones (no call of their own), drop the send times that left the window, then
// record as many of the waiting ids as there are free places (one call for a line of waiting
// requests). For those left, the client joins the line (keeping its place if it is already in
// it) and is told when to come back: when the places for the clients ahead of it and for a batch
// of its own have freed (a quarter of the budget at most). Clients in line get different
// wake-ups derived from the log, instead of all coming back when the oldest leaves.
// Answers { taken, waitMs, ...positions of reports that failed } (waitMs > 0 when some are left).
const TAKE = `${RECORD_WRITTEN}
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2]) * 1000
local ttl = tonumber(ARGV[3])
local client = ARGV[4]
local lead = math.max(0, math.min(tonumber(ARGV[5]), 2 * tonumber(ARGV[2]))) * 1000
local first, failed = recordWritten(now, 6)
local function answer(taken, waitMs) return {taken, waitMs, unpack(failed)} end
local wanted = #ARGV - first + 1
if wanted == 0 then return answer(0, 0) end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local count = redis.call('ZCARD', KEYS[1])
local taken = 0
if count < limit then
  taken = math.min(limit - count, wanted)
  local args = {}
  for i = 1, taken do
    args[2 * i - 1] = now + lead
    args[2 * i] = ARGV[first + i - 1]
  end
  redis.call('ZADD', KEYS[1], unpack(args))
  redis.call('PEXPIRE', KEYS[1], ttl)
  count = count + taken
  redis.call('ZREM', KEYS[2], client)
  if taken == wanted then return answer(taken, 0) end
end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - 2 * window)
redis.call('ZADD', KEYS[2], 'NX', now, client)
redis.call('PEXPIRE', KEYS[2], ttl)
local rank = redis.call('ZRANK', KEYS[2], client)
local batch = math.min(wanted - taken, math.max(1, math.ceil(limit / 4)))
local index = count - limit + rank + batch - 1
local at
if index < count then
  at = tonumber(redis.call('ZRANGE', KEYS[1], index, index, 'WITHSCORES')[2]) + window
else
  local newest = tonumber(redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')[2])
  at = newest + window + (index - count + 1) * window / limit
end
return answer(taken, math.max(1, math.ceil((at - now) / 1000)))
`;

// Only written requests (ARGV as RECORD_WRITTEN's from 1), when no take comes soon enough to carry
// them. KEYS[1], one of the budgets reported, routes the call to its master on a Cluster.
// Answers the positions of the budgets that failed.
const MARK_SENT = `${RECORD_WRITTEN}
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local _, failed = recordWritten(now, 1)
return failed
`;

/** Most reports one call carries (each is 2 arguments; Lua unpacks a budget's at once). */
const MAX_REPORTS_PER_CALL = 256;

/** Names under which the scripts are defined on the ioredis client (EVALSHA, EVAL on NOSCRIPT). */
const TAKE_COMMAND = 'serviceTitanRateLimitTakeV3';
const MARK_SENT_COMMAND = 'serviceTitanRateLimitMarkSentV3';

/** The client once the scripts are defined on it. */
type ScriptedRedis = Record<typeof TAKE_COMMAND | typeof MARK_SENT_COMMAND, (...args: unknown[]) => Promise<unknown>>;

/**
 * A {@link RateLimitStore} in Redis (ioredis client, which you create, own and quit): every
 * process that uses it shares one budget per (app key, tenant), ServiceTitan's unit, exact in any
 * rolling window (a sliding-window log in a sorted set, on Redis's clock): about one script call
 * (EVALSHA) per request, fewer when requests wait. Works on a Redis Cluster (each budget's keys
 * in one slot). Every command is bounded by `commandTimeoutMs`; when Redis fails, each client
 * falls back to its own limiter (one warning) and uses the store again once Redis answers.
 *
 * @example
 * import { Redis } from 'ioredis';
 * import { createServiceTitanClient } from 'axios-servicetitan-auth';
 * import { RedisRateLimitStore } from 'axios-servicetitan-auth/redis';
 *
 * const redis = new Redis(process.env.REDIS_URL!);
 * const client = createServiceTitanClient({
 *   clientId, clientSecret, appKey, environment: 'production', tenantId: 123,
 *   rateLimit: { store: new RedisRateLimitStore(redis) }, // 60 per second for the whole fleet
 * });
 */
export class RedisRateLimitStore implements RateLimitStore {
  readonly #redis: ScriptedRedis;
  readonly #prefix: string;
  readonly #bounds: CommandBounds;
  /** The client's own `keyPrefix`: ioredis adds it to KEYS, the store to the keys it names in ARGV. */
  readonly #clientPrefix: string;
  /** The client when it is a Cluster: its `slots` say which master serves a slot (refreshed as slots move). */
  readonly #cluster: Cluster | undefined;
  /** Members must be unique across the fleet: a random name for this store, then a counter. */
  readonly #memberPrefix = randomBytes(8).toString('hex');
  #counter = 0;
  /** The longest window {@link take} was asked about: {@link markSent} (no window given) keeps keys that long. */
  #longestWindowMs = 0;
  /** Every tenant's write-time reports, waiting for a call to carry them. */
  readonly #pending = new PendingReports((group) => {
    // Best effort: if it fails, each request counts from when it was recorded, a little early.
    for (const call of this.#sendReports(group)) call.catch(() => undefined);
  });
  /**
   * Cleared when a plain Redis refused a budget named in ARGV (a proxy in front of a cluster):
   * each budget's reports then go only with calls that name it in KEYS.
   */
  #carryAcrossBudgets = true;
  /** Set by {@link close}: reports are no longer queued. */
  #closed = false;

  constructor(redis: Redis | Cluster, options: RedisRateLimitStoreOptions = {}) {
    if (
      redis === null ||
      typeof redis !== 'object' ||
      typeof (redis as Partial<Redis>).eval !== 'function' ||
      typeof (redis as Partial<Redis>).defineCommand !== 'function'
    ) {
      throw invalidConfig('RedisRateLimitStore needs an ioredis client (new Redis(...)) as its first argument');
    }
    if (options === null || typeof options !== 'object') {
      throw invalidConfig('RedisRateLimitStore: options must be an object');
    }
    this.#prefix = options.keyPrefix ?? 'st-rate:';
    if (typeof this.#prefix !== 'string') throw invalidConfig('RedisRateLimitStore: keyPrefix must be a string');
    this.#bounds = commandBounds(
      'RedisRateLimitStore',
      redis,
      msOption(options.commandTimeoutMs, 'RedisRateLimitStore: commandTimeoutMs', 500, 1),
      options.maxCommandWaitMs,
    );
    const clientPrefix = (redis as { options?: { keyPrefix?: unknown } }).options?.keyPrefix;
    this.#clientPrefix = typeof clientPrefix === 'string' ? clientPrefix : '';
    this.#cluster = (redis as { isCluster?: boolean }).isCluster === true ? (redis as Cluster) : undefined;
    // ioredis sends a defined command as EVALSHA, and the script once more (EVAL) only when the
    // server answers NOSCRIPT (a restart, a failover, a new Cluster master): the script text
    // (~1 KB) no longer travels with every request. Defining it again (another store on the same
    // client) replaces it with the same script. It does not connect.
    redis.defineCommand(TAKE_COMMAND, { numberOfKeys: 2, lua: TAKE });
    redis.defineCommand(MARK_SENT_COMMAND, { numberOfKeys: 1, lua: MARK_SENT });
    this.#redis = redis as unknown as ScriptedRedis;
  }

  /**
   * The budget's key: its name in a hash tag, so that a Redis Cluster keeps each budget's keys in
   * one slot (scripts on both never fail with CROSSSLOT) and spreads budgets over its masters.
   */
  #logKey(key: string): string {
    return `${this.#prefix}{${key}}`;
  }

  /**
   * Which reports one call may carry with a call on `logKey`: all of them on one Redis; on a
   * Cluster those of the same master (ioredis's slot map; a slot it does not know yet is a group
   * of its own). When carrying across budgets was refused, the budget's own.
   */
  #groupOf(logKey: string): string {
    if (!this.#carryAcrossBudgets) return logKey;
    if (this.#cluster === undefined) return '';
    const slot = clusterSlot(this.#clientPrefix + logKey);
    return (this.#cluster.slots[slot] as readonly string[] | undefined)?.[0] ?? `slot ${slot}`;
  }

  /** A fleet-unique id, for callers of {@link take} that give none. */
  #newId(): string {
    this.#counter += 1;
    return `${this.#memberPrefix}:${this.#counter}`;
  }

  async take(key: string, limit: number, windowMs: number, id: string = this.#newId()): Promise<number> {
    const { taken, waitMs } = await this.takeMany(key, limit, windowMs, [id], this.#memberPrefix);
    return taken > 0 ? 0 : waitMs;
  }

  async takeMany(
    key: string,
    limit: number,
    windowMs: number,
    ids: readonly string[],
    client: string,
    written: readonly WrittenRequest[] = [],
    leadMs = 0,
  ): Promise<RateLimitTakeAnswer> {
    if (ids.length === 0) {
      await this.markSentMany(key, written, windowMs);
      return { taken: 0, waitMs: 0 };
    }
    this.#longestWindowMs = Math.max(this.#longestWindowMs, windowMs);
    const logKey = this.#logKey(key);
    const now = performance.now();
    // Given with the call (a caller that does not hand reports over as they come): due now.
    for (const { id, agoMs } of written) this.#queue(logKey, windowMs, id, now - agoMs, now);
    const carried = this.#pending.drain(this.#groupOf(logKey), MAX_REPORTS_PER_CALL);
    // If it fails, the reports it carried are lost with it, as any failed report: each request
    // then counts from when it was recorded, a little early. Not sent again: on an overloaded
    // worker whose takes time out, every take would carry more and load it further.
    const answer = await withCommandTimeout(
      'take',
      this.#bounds,
      () =>
        this.#redis[TAKE_COMMAND](
          logKey,
          `${logKey}:waiting`,
          limit,
          windowMs,
          ttlMs(windowMs),
          client,
          Number.isFinite(leadMs) ? Math.max(0, Math.ceil(leadMs)) : 0,
          ...this.#reportArguments(carried),
          ...ids,
        ),
      'RedisRateLimitStore',
    );
    const [taken, waitMs, ...failed] = Array.isArray(answer) ? answer.map(Number) : [];
    if (
      !Number.isInteger(taken) ||
      taken! < 0 ||
      taken! > ids.length ||
      !Number.isFinite(waitMs) ||
      waitMs! < 0 ||
      (taken! < ids.length && waitMs === 0)
    ) {
      throw new Error('RedisRateLimitStore: take answered something else than { taken, waitMs }');
    }
    this.#resendFailed(carried, failed, logKey);
    return { taken: taken!, waitMs: waitMs! };
  }

  markSent(key: string, id: string): Promise<void> {
    return this.markSentMany(key, [{ id, agoMs: 0 }], this.#longestWindowMs || 1000);
  }

  /** One call now for these and every other report its group has pending (every tenant's). */
  async markSentMany(key: string, written: readonly WrittenRequest[], windowMs: number): Promise<void> {
    if (written.length === 0) return;
    const logKey = this.#logKey(key);
    const now = performance.now();
    for (const { id, agoMs } of written) this.#queue(logKey, windowMs, id, now - agoMs, now);
    await Promise.all(this.#sendReports(this.#groupOf(logKey)));
  }

  /**
   * Queues the report: it rides on the next take of any budget this call could carry (the same
   * Redis, the same Cluster master), or by `dueAt` on a call of its own with every other report
   * then pending. Failures are ignored.
   */
  reportWritten(key: string, id: string, writtenAt: number, dueAt: number, windowMs: number): void {
    if (this.#closed) return;
    this.#queue(this.#logKey(key), windowMs, id, writtenAt, dueAt);
  }

  #queue(logKey: string, windowMs: number, id: string, writtenAt: number, dueAt: number): void {
    this.#pending.add(this.#groupOf(logKey), logKey, ttlMs(windowMs), id, writtenAt, dueAt);
  }

  /**
   * Sends the write-time reports still waiting (one call per Redis, or per Cluster master) and
   * resolves once Redis has answered them (or their `commandTimeoutMs` passed); later requests'
   * reports are dropped, so nothing is sent after it resolves. Call it after your last request and
   * before you end your client: a report can wait up to half a window (500 ms) for a call to
   * carry it, and one sent after `quit()` makes Redis close the connection before `quit()` has
   * its answer (`quit()` then rejects with "Connection is closed."). Idempotent; it does not end
   * your client. Requests made after it are still limited; their write times are not reported, so
   * each counts from when it was recorded, a little early.
   */
  async close(): Promise<void> {
    this.#closed = true;
    this.#pending.stop();
    const calls = this.#pending.groups().flatMap((group) => this.#sendReports(group));
    await Promise.allSettled(calls);
  }

  /** One call for all of a group's pending reports (more past MAX_REPORTS_PER_CALL). */
  #sendReports(group: string): Promise<void>[] {
    const calls: Promise<void>[] = [];
    for (;;) {
      const carried = this.#pending.drain(group, MAX_REPORTS_PER_CALL);
      if (carried.length === 0) return calls;
      calls.push(this.#markSentNow(carried));
    }
  }

  /** `resend`: false for a budget's own call after a refusal (it is not sent a third time). */
  async #markSentNow(carried: PendingBudget[], resend = true): Promise<void> {
    const routedBy = carried[0]!.logKey;
    const failed = await withCommandTimeout(
      'markSent',
      this.#bounds,
      () => this.#redis[MARK_SENT_COMMAND](routedBy, ...this.#reportArguments(carried)),
      'RedisRateLimitStore',
    );
    if (resend) this.#resendFailed(carried, Array.isArray(failed) ? failed.map(Number) : [], routedBy);
  }

  /**
   * Budgets the server could not write when named in ARGV (1-based positions) go again, each on
   * a call that names it in KEYS (routed to the master that serves it now). On a plain Redis that
   * means a proxy that refuses keys it was not told of: stop carrying other budgets' reports.
   */
  #resendFailed(carried: readonly PendingBudget[], failed: readonly number[], routedBy: string): void {
    if (failed.length === 0) return;
    if (this.#cluster === undefined) this.#carryAcrossBudgets = false;
    for (const position of failed) {
      const budget = carried[position - 1];
      // The budget's own call: the key it names is the one it routes by, so it cannot fail again
      // for that reason; a budget refused on a call routed by its own key (some other fault) and
      // a refusal on its own call are not sent again. Best effort, as every report: if it fails,
      // each request counts from when it was recorded, a little early.
      if (budget !== undefined && budget.logKey !== routedBy) this.#markSentNow([budget], false).catch(() => undefined);
    }
  }

  /** RECORD_WRITTEN's arguments: the count of budgets, then each budget's key, TTL and (id, whole ms ago) pairs. */
  #reportArguments(budgets: readonly PendingBudget[]): (string | number)[] {
    const now = performance.now();
    const args: (string | number)[] = [budgets.length];
    for (const { logKey, ttlMs: ttl, written } of budgets) {
      args.push(this.#clientPrefix + logKey, ttl, written.size);
      // Rounded down: a request never counts from before it was written (negative: a time to
      // come, for a request still unwritten re-recorded with its client's lead).
      for (const [id, at] of written) args.push(id, Math.floor(now - at));
    }
    return args;
  }

  /** Shows the key prefix only. */
  toJSON(): Record<string, unknown> {
    return { keyPrefix: this.#prefix };
  }
}

/**
 * How long a budget's keys outlive their last write: three windows, so a key never expires while
 * a request it counts may still be marked sent (SharedBudget re-marks a request that is still
 * unwritten every quarter window, and records places up to two windows ahead on a late
 * process), and an idle budget's keys go soon after.
 */
function ttlMs(windowMs: number): number {
  return Math.ceil(3 * windowMs);
}
