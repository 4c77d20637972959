import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { SandboxRequestRecord } from './types';

/** One request going through an endpoint's pipeline. */
export interface RequestContext {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly record: SandboxRequestRecord;
  readonly url: URL;
  /** The raw request body (read in full before holds, faults and handlers run). */
  body: Buffer;
  /** True once the response is finished or the connection is gone. */
  gone: boolean;
}

/** A request handler of one endpoint (token or API). */
export type Handler = (ctx: RequestContext) => void | Promise<void>;

/** Reads the whole request body; rejects if the client goes away first. */
export function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.once('end', () => resolve(Buffer.concat(chunks)));
    req.once('error', reject);
    // After 'end' this is a no-op; before it, the client went away mid-body.
    req.once('close', () => reject(new Error('request closed before its body was read')));
  });
}

/** The query string as a plain object (the last value wins for repeated names). */
export function queryObject(url: URL): Record<string, string> {
  return Object.fromEntries(url.searchParams.entries());
}

/** The media type of a Content-Type header, lower-cased, without parameters. */
export function mediaType(header: string | undefined): string {
  return (header ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
}

/** Sends a complete answer and records its status. */
export function send(
  ctx: RequestContext,
  status: number,
  body: string | Buffer,
  headers: OutgoingHttpHeaders = {},
): void {
  if (ctx.gone) return;
  ctx.record.status = status;
  const payload = typeof body === 'string' ? Buffer.from(body) : body;
  ctx.res.writeHead(status, { ...headers, 'content-length': payload.length });
  ctx.res.end(payload);
}

/** Sends `value` as JSON. */
export function sendJson(ctx: RequestContext, status: number, value: unknown, headers: OutgoingHttpHeaders = {}): void {
  send(ctx, status, JSON.stringify(value), {
    'content-type': 'application/json; charset=utf-8',
    ...headers,
  });
}
