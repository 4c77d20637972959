import { afterArrivedIo } from '../after-arrived-io';

/**
 * Bounds a store command: rejects after `ms`, once the I/O that arrived by then has been read
 * (an answer is not late because the process was not running to read it), even if the command
 * never settles (ioredis keeps commands in its offline queue while disconnected). The timer is unref'd and cleared, so it
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
      lastLook = afterArrivedIo(() => reject(new Error(`${storeName}: ${operation} timed out after ${ms} ms`)));
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
