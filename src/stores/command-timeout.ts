/**
 * Bounds a store command: rejects after `ms` (and the I/O already arrived by then has been read)
 * even if the command never settles (ioredis keeps
 * commands in its offline queue while disconnected). The timer is unref'd and cleared, so it
 * never keeps the process alive. The error names the operation, never its arguments; the
 * underlying error's message is kept, not the error itself (ioredis attaches the command's
 * arguments to its errors).
 */
export async function withCommandTimeout<T>(
  operation: string,
  ms: number,
  command: () => Promise<T>,
  storeName = 'RedisTokenStore',
): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  let lastLook: NodeJS.Immediate | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      // Not yet: a process that was not running (starved of CPU, a long GC pause, a blocked
      // event loop) runs its due timers before it reads its sockets, so the answer may be there,
      // unread. The next turn's I/O reads it first; only then is the command late. Without this,
      // bench:fleet's workers (event loop held for seconds at a cold start) took answered
      // commands for failures, and every client fell back (8,000 of 8,000).
      // Not unref'd: the loop would then wait in its poll for other I/O before running it.
      lastLook = setImmediate(() => reject(new Error(`${storeName}: ${operation} timed out after ${ms} ms`)));
    }, ms);
    timer.unref();
  });
  try {
    return await Promise.race([run(operation, command, storeName), timeout]);
  } finally {
    clearTimeout(timer);
    clearImmediate(lastLook);
  }
}

async function run<T>(operation: string, command: () => Promise<T>, storeName: string): Promise<T> {
  try {
    return await command();
  } catch (error) {
    // eslint-disable-next-line preserve-caught-error -- on purpose: ioredis errors carry the command's arguments
    throw new Error(`${storeName}: ${operation} failed: ${error instanceof Error ? error.message : String(error)}`);
  }
}
