import { afterArrivedIo } from '../after-arrived-io';
import { invalidConfig } from '../errors';
import { msOption } from '../timer-limits';
import { describe } from '../urls';

/** `maxCommandWaitMs` when not given: at least this, and never below `commandTimeoutMs`. */
export const DEFAULT_MAX_COMMAND_WAIT_MS = 1500;

/**
 * When the library last had an answer from one Redis client (an ioredis `Redis` or `Cluster`),
 * shared by every store on that client: the evidence that a command still waiting is queued
 * behind others on a Redis that works, not sent to one that is down.
 */
export interface RedisAnswers {
  /** `performance.now()` of the last answer to any of the stores' commands; -Infinity before the first. */
  lastAt: number;
}

const answersByClient = new WeakMap<object, RedisAnswers>();

/** The answers record of `client`, the same for every store built on it. */
export function redisAnswersOf(client: object): RedisAnswers {
  let answers = answersByClient.get(client);
  if (answers === undefined) {
    answers = { lastAt: Number.NEGATIVE_INFINITY };
    answersByClient.set(client, answers);
  }
  return answers;
}

/** How long a store command may wait for Redis. */
export interface CommandBounds {
  /** It fails once Redis has been silent this long: no answer to it, nor to any other command on the client. */
  silenceMs: number;
  /** It fails after this long however Redis answers the others (≥ `silenceMs`). */
  maxMs: number;
  /** Answers on the command's client (see {@link redisAnswersOf}). */
  answers: RedisAnswers;
}

/**
 * A store's bounds from its options: `commandTimeoutMs` (already checked) and `maxCommandWaitMs`,
 * which may not be below it; an invalid one is `invalid_config` naming the store and the option.
 */
export function commandBounds(
  storeName: string,
  client: object,
  commandTimeoutMs: number,
  maxCommandWaitMs: unknown,
): CommandBounds {
  const maxMs = msOption(
    maxCommandWaitMs,
    `${storeName}: maxCommandWaitMs`,
    Math.max(DEFAULT_MAX_COMMAND_WAIT_MS, commandTimeoutMs),
    1,
  );
  if (maxMs < commandTimeoutMs) {
    throw invalidConfig(
      `${storeName}: maxCommandWaitMs must be at least commandTimeoutMs (${commandTimeoutMs}), got ${describe(maxCommandWaitMs)}`,
    );
  }
  return { silenceMs: commandTimeoutMs, maxMs, answers: redisAnswersOf(client) };
}

/**
 * Bounds a store command. With a number: it rejects after `ms`. With {@link CommandBounds}: after
 * `silenceMs` without any answer from Redis (to it, or to another command on the same client),
 * or after `maxMs` in any case. A Redis that answers, late, because a backlog of commands is
 * queued before this one (a cold start over thousands of tenants, a Redis short of CPU) is not
 * taken for one that is down: each timeout is a fallback (an extra token request, a client alone
 * under its own limiter), so a slow Redis used to look like an outage (issue 18).
 *
 * Either way a deadline counts only once the I/O that arrived by then has been read (an answer is
 * not late because the process was not running to read it), and a command whose process was held
 * past half its timeout gets one fresh look, counted from when the process runs again (a command
 * queued before the connection was ready was never sent meanwhile). It fails even if it never settles
 * (ioredis keeps commands in its offline queue while disconnected). The timer is unref'd and
 * cleared, so it never keeps the process alive. The error names the operation, never its
 * arguments; the underlying error's message is kept, not the error itself (ioredis attaches the
 * command's arguments to its errors).
 */
export async function withCommandTimeout<T>(
  operation: string,
  bounds: number | CommandBounds,
  command: () => Promise<T>,
  storeName = 'RedisTokenStore',
): Promise<T> {
  const { silenceMs, maxMs, answers } = typeof bounds === 'number' ? { silenceMs: bounds, maxMs: bounds } : bounds;
  const startedAt = performance.now();
  /** Silence counts from here: the start, or the end of the hold that gave the command a fresh look. */
  let listeningSince = startedAt;
  let capAt = startedAt + maxMs;
  let freshLookTaken = false;
  let timer: NodeJS.Timeout | undefined;
  let lastLook: NodeJS.Immediate | undefined;
  const timeout = new Promise<never>((_, reject) => {
    const arm = (ms: number): void => {
      const dueAt = performance.now() + ms;
      timer = setTimeout(() => {
        lastLook = afterArrivedIo(() => {
          const now = performance.now();
          const heldMs = now - dueAt;
          // The process was not running for much of the wait (a synchronous burst, a stop, a
          // starved CPU): a command still in ioredis's offline queue then was never even sent.
          // One fresh look, counted from now; once, so a process held again and again still fails.
          if (!freshLookTaken && heldMs > silenceMs / 2) {
            freshLookTaken = true;
            listeningSince = now;
            capAt += heldMs;
            arm(silenceMs);
            return;
          }
          const heardAt = Math.max(listeningSince, answers?.lastAt ?? listeningSince);
          const waitMore = Math.min(heardAt + silenceMs, capAt) - now;
          if (waitMore > 0) arm(waitMore);
          else
            reject(
              new Error(
                `${storeName}: ${operation} ${timedOut(now - startedAt, heardAt > listeningSince, now >= capAt, bounds)}`,
              ),
            );
        });
      }, ms);
      timer.unref();
    };
    arm(silenceMs);
  });
  try {
    return await Promise.race([run(operation, command, storeName, answers), timeout]);
  } finally {
    clearTimeout(timer);
    clearImmediate(lastLook);
  }
}

/** Why the command failed, in the words of the options that bound it. */
function timedOut(elapsedMs: number, heardMeanwhile: boolean, capped: boolean, bounds: number | CommandBounds): string {
  if (typeof bounds === 'number') return `timed out after ${bounds} ms`;
  if (!heardMeanwhile || bounds.maxMs === bounds.silenceMs) return `timed out after ${bounds.silenceMs} ms`;
  const waited = Math.round(elapsedMs);
  return capped
    ? `timed out after ${waited} ms (maxCommandWaitMs), while Redis answered other commands`
    : `timed out after ${waited} ms, the last ${bounds.silenceMs} ms (commandTimeoutMs) without any answer from Redis`;
}

async function run<T>(
  operation: string,
  command: () => Promise<T>,
  storeName: string,
  answers: RedisAnswers | undefined,
): Promise<T> {
  let answer: T;
  try {
    answer = await command();
  } catch (error) {
    // eslint-disable-next-line preserve-caught-error -- on purpose: ioredis errors carry the command's arguments
    throw new Error(`${storeName}: ${operation} failed: ${error instanceof Error ? error.message : String(error)}`);
  }
  if (answers !== undefined) answers.lastAt = performance.now();
  return answer;
}
