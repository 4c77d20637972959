import type { OutgoingHttpHeaders } from 'node:http';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { RequestContext } from './http';
import type { Lifecycle } from './lifecycle';

const CHUNK_BYTES = 64 * 1024;
const TOKEN_HEAD = '{"access_token":"';
const TOKEN_TAIL = '","token_type":"Bearer","expires_in":900}';

function startAnswer(ctx: RequestContext, status: number, headers: OutgoingHttpHeaders): void {
  ctx.record.status = status;
  ctx.res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
  // Headers go out at once: the slowness must be in the body, where idle timers reset.
  ctx.res.flushHeaders();
}

/**
 * Sends the headers at once, then `body` one byte every `intervalMs` (an endless run of spaces,
 * which is valid JSON whitespace, when `body` is undefined). Ends when the body is sent, the
 * client goes away or the sandbox closes; every wait is a {@link Lifecycle} sleep, so nothing
 * outlives `close()`.
 */
export async function trickleAnswer(
  ctx: RequestContext,
  life: Lifecycle,
  answer: { status: number; intervalMs: number; body: Buffer | undefined; headers: OutgoingHttpHeaders },
): Promise<void> {
  startAnswer(ctx, answer.status, answer.headers);
  for (let sent = 0; ; sent += 1) {
    await life.sleep(answer.intervalMs);
    if (ctx.gone || life.closed) return;
    if (answer.body !== undefined && sent >= answer.body.length) {
      ctx.res.end();
      return;
    }
    ctx.res.write(answer.body === undefined ? ' ' : answer.body.subarray(sent, sent + 1));
  }
}

/** `{"access_token":"aaa…","token_type":"Bearer","expires_in":900}` of `totalBytes`, 64 KiB at a time. */
function* tokenAnswerOfSize(totalBytes: number): Generator<Buffer> {
  const filler = Buffer.alloc(CHUNK_BYTES, 'a');
  let left = Math.max(0, totalBytes - TOKEN_HEAD.length - TOKEN_TAIL.length);
  yield Buffer.from(TOKEN_HEAD);
  while (left > 0) {
    const piece = left >= CHUNK_BYTES ? filler : filler.subarray(0, left);
    left -= piece.length;
    yield piece;
  }
  yield Buffer.from(TOKEN_TAIL);
}

/**
 * Streams a well-formed token answer of `totalBytes` (chunked unless `headers` sets a
 * Content-Length), generated lazily with back-pressure: a 200 MB answer costs the sandbox 64 KiB.
 * Stops when the client goes away or the sandbox closes.
 */
export async function largeAnswer(
  ctx: RequestContext,
  answer: { status: number; totalBytes: number; headers: OutgoingHttpHeaders },
): Promise<void> {
  startAnswer(ctx, answer.status, answer.headers);
  // A client that stops reading (as a size cap should) makes the pipeline fail: that is the point.
  await pipeline(Readable.from(tokenAnswerOfSize(answer.totalBytes)), ctx.res).catch(() => undefined);
}
