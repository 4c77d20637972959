import type { OutgoingHttpHeaders } from 'node:http';
import { warnDeprecatedName } from '../process-warning';
import { send, type RequestContext } from './http';
import type { Lifecycle } from './lifecycle';
import { isWholeSecondsMs } from './sandbox-options';
import { largeAnswer, trickleAnswer } from './streamed-answers';
import type { Fault, RetryAfterStyle, SandboxRequestRecord } from './types';

interface QueuedFault {
  fault: Fault;
  remaining: number;
}

/** Scripted answers, FIFO: a request takes the first fault whose `match` accepts it. */
export class FaultQueue {
  #queue: QueuedFault[] = [];

  enqueue(faults: Fault[]): void {
    for (const fault of faults) {
      const times = fault.times ?? 1;
      if (!Number.isInteger(times) || times < 1) {
        throw new TypeError(`Fault.times must be a positive integer, got ${String(fault.times)}`);
      }
      checkStreamedFault(fault);
      checkRetryAfter(fault);
      this.#queue.push({ fault, remaining: times });
    }
  }

  /** Uses still queued (a fault with `times: n` counts n until it serves). */
  get pending(): number {
    return this.#queue.reduce((sum, q) => sum + q.remaining, 0);
  }

  /** Takes one use of the first matching fault. */
  take(record: SandboxRequestRecord): Fault | undefined {
    const index = this.#queue.findIndex((q) => q.fault.match?.(record) ?? true);
    const queued = this.#queue[index];
    if (!queued) return undefined;
    queued.remaining -= 1;
    if (queued.remaining === 0) this.#queue.splice(index, 1);
    return queued.fault;
  }
}

function checkStreamedFault(fault: Fault): void {
  const { trickleMs, largeBodyBytes } = fault;
  if (trickleMs !== undefined && !(Number.isFinite(trickleMs) && trickleMs > 0)) {
    throw new TypeError(`Fault.trickleMs must be a positive number of ms, got ${String(trickleMs)}`);
  }
  if (largeBodyBytes !== undefined && !(Number.isSafeInteger(largeBodyBytes) && largeBodyBytes >= 0)) {
    throw new TypeError(`Fault.largeBodyBytes must be an integer >= 0, got ${String(largeBodyBytes)}`);
  }
}

function checkRetryAfter({ retryAfterMs, retryAfterDate, retryAfter }: Fault): void {
  const given = Object.entries({ retryAfterMs, retryAfterDate, retryAfter })
    .filter(([, value]) => value !== undefined)
    .map(([name]) => name);
  if (given.length > 1) {
    throw new TypeError(`Fault.${given.join(' and Fault.')} are one setting (the Retry-After header): give one`);
  }
  if (retryAfterMs !== undefined && retryAfterMs !== 'absent' && !isWholeSecondsMs(retryAfterMs)) {
    throw new TypeError(
      `Fault.retryAfterMs must be a whole number of seconds in ms (a multiple of 1000, >= 0: Retry-After carries whole seconds) or 'absent', got ${String(retryAfterMs)}`,
    );
  }
  if (retryAfterDate !== undefined && !(retryAfterDate instanceof Date && Number.isFinite(retryAfterDate.getTime()))) {
    throw new TypeError(`Fault.retryAfterDate must be a valid Date, got ${String(retryAfterDate)}`);
  }
  if (retryAfter !== undefined) {
    warnDeprecatedName('Fault.retryAfter', "Fault.retryAfterMs (seconds × 1000, or 'absent') or Fault.retryAfterDate");
  }
}

/** What an endpoint needs to answer a fault in its own style. */
export interface FaultSettings {
  life: Lifecycle;
  retryAfterStyle: RetryAfterStyle;
  /** The endpoint's error body for a status when the fault gives none. */
  errorBody: (status: number) => unknown;
}

/** The `Retry-After` value for an answer, or undefined to send none. */
export function retryAfterHeader(fault: Fault, style: RetryAfterStyle): string | undefined {
  if (typeof fault.retryAfterMs === 'number') return String(fault.retryAfterMs / 1000);
  const value =
    fault.retryAfterDate ?? fault.retryAfterMs ?? fault.retryAfter ?? (fault.status === 429 ? style : 'absent');
  if (value === 'absent') return undefined;
  if (value === 'seconds') return '1';
  if (value === 'http-date') return new Date(Date.now() + 1000).toUTCString();
  if (value instanceof Date) return value.toUTCString();
  return String(value);
}

function faultBody(fault: Fault, status: number, settings: FaultSettings): [string, string] {
  const body = fault.body !== undefined ? fault.body : settings.errorBody(status);
  if (typeof body === 'string') return [body, fault.contentType ?? 'text/html; charset=utf-8'];
  return [JSON.stringify(body), fault.contentType ?? 'application/json; charset=utf-8'];
}

function resetMidBody(ctx: RequestContext): void {
  ctx.res.writeHead(200, { 'content-type': 'application/json; charset=utf-8' });
  // Chunked and never terminated: the client sees the connection die inside the body.
  ctx.res.write('{"page":1,"pageSize":50,"hasMore":true,"data":[{"id":1,"name":', () => {
    ctx.req.socket.destroy();
  });
}

/**
 * Applies a fault. Resolves true when the fault answered (or dropped) the request, false when
 * the request must now be processed normally (a fault with only `delayMs` / `headers`).
 */
export async function applyFault(ctx: RequestContext, fault: Fault, settings: FaultSettings): Promise<boolean> {
  if (fault.delayMs !== undefined && fault.delayMs > 0) await settings.life.sleep(fault.delayMs);
  if (settings.life.closed || ctx.gone) return true;
  if (fault.hang) {
    await settings.life.untilClosed();
    return true;
  }
  if (fault.reset) {
    ctx.req.socket.destroy();
    return true;
  }
  if (fault.resetMidBody) {
    resetMidBody(ctx);
    return true;
  }
  const headers: OutgoingHttpHeaders = { ...fault.headers };
  const retryAfter = retryAfterHeader(fault, settings.retryAfterStyle);
  if (retryAfter !== undefined) headers['retry-after'] = retryAfter;
  if (fault.trickleMs !== undefined) {
    const body = fault.body === undefined ? undefined : Buffer.from(faultBody(fault, 200, settings)[0]);
    await trickleAnswer(ctx, settings.life, {
      status: fault.status ?? 200,
      intervalMs: fault.trickleMs,
      body,
      headers,
    });
    return true;
  }
  if (fault.largeBodyBytes !== undefined) {
    await largeAnswer(ctx, { status: fault.status ?? 200, totalBytes: fault.largeBodyBytes, headers });
    return true;
  }
  if (fault.redirectTo !== undefined) {
    send(ctx, fault.status ?? 302, '', { ...headers, location: fault.redirectTo });
    return true;
  }
  if (fault.status !== undefined) {
    const [body, contentType] = faultBody(fault, fault.status, settings);
    send(ctx, fault.status, body, { 'content-type': contentType, ...headers });
    return true;
  }
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined) ctx.res.setHeader(name, value);
  }
  return false;
}
