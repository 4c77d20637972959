import type { IncomingMessage, ServerResponse } from 'node:http';
import { applyFault, FaultQueue, type FaultSettings } from './faults';
import { HoldList } from './holds';
import { queryObject, readBody, sendJson, type Handler, type RequestContext } from './http';
import { problem } from './problem';
import { maxInAnyWindow } from './rate-limit';
import type { Fault, Hold, SandboxEndpoint, SandboxRequestRecord } from './types';

/** The request headers with the credentials of `authorization` replaced by `<redacted>`. */
function redactHeaders(req: IncomingMessage): SandboxRequestRecord['headers'] {
  const headers: SandboxRequestRecord['headers'] = { ...req.headers };
  const authorization = req.headers.authorization;
  if (authorization !== undefined) {
    const scheme = authorization.trim().split(/\s+/)[0] ?? '';
    headers['authorization'] = `${scheme} <redacted>`;
  }
  return headers;
}

/** How one endpoint describes and answers its requests. */
export interface EndpointConfig extends FaultSettings {
  kind: 'token' | 'api';
  logLimit: number;
  /** Milliseconds origin of `SandboxRequestRecord.at`. */
  startedAt: number;
  /** Fills the endpoint-specific parts of a record from the request head (never secrets). */
  describeHead: (req: IncomingMessage, record: SandboxRequestRecord) => void;
  /** Fills the endpoint-specific parts of a record from the body (never secrets). */
  describeBody?: (body: Buffer, req: IncomingMessage, record: SandboxRequestRecord) => void;
  handler: Handler;
}

/** One endpoint's counters, log, faults and holds, and the pipeline every request goes through. */
export class Endpoint implements SandboxEndpoint {
  readonly #config: EndpointConfig;
  readonly #faults = new FaultQueue();
  readonly #holds = new HoldList();
  #log: SandboxRequestRecord[] = [];
  /**
   * The log's arrival times on the monotonic clock the sandbox's rate limit reads: `at` is whole
   * Date.now() milliseconds (so fake clocks apply), and rounding made two arrivals 999.6 ms apart
   * look 1000 ms apart to `maxArrivals` while the limit counted them in one second.
   */
  #arrivals: number[] = [];
  #count = 0;
  #inFlight = 0;
  #maxInFlight = 0;
  #rateLimited = 0;
  #idleWaiters: (() => void)[] = [];

  constructor(config: EndpointConfig) {
    this.#config = config;
  }

  get count(): number {
    return this.#count;
  }

  get requests(): readonly SandboxRequestRecord[] {
    return [...this.#log];
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  get rateLimited(): number {
    return this.#rateLimited;
  }

  /** Counts one 429 answered by the sandbox's own rate limits. */
  noteRateLimited(): void {
    this.#rateLimited += 1;
  }

  maxArrivals(windowMs = 1000, match?: (request: SandboxRequestRecord) => boolean): number {
    const arrivals = match === undefined ? this.#arrivals : this.#arrivals.filter((_, i) => match(this.#log[i]!));
    return maxInAnyWindow(arrivals, windowMs);
  }

  get maxInFlight(): number {
    return this.#maxInFlight;
  }

  get pendingFaults(): number {
    return this.#faults.pending;
  }

  enqueue(...faults: Fault[]): void {
    this.#faults.enqueue(faults);
  }

  hold(match?: (request: SandboxRequestRecord) => boolean): Hold {
    return this.#holds.add(match);
  }

  /** Zeroes the counters and the log; requests in flight stay counted in `inFlight`. */
  resetCounters(): void {
    this.#count = 0;
    this.#rateLimited = 0;
    this.#log = [];
    this.#arrivals = [];
    this.#maxInFlight = this.#inFlight;
  }

  /** Ends the holds, as the sandbox closes. */
  close(): void {
    this.#holds.endAll();
  }

  /** Resolves once no request is in flight (after `close()`, once every socket is gone). */
  idle(): Promise<void> {
    if (this.#inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /** The `request` listener of this endpoint's server. */
  readonly listener = (req: IncomingMessage, res: ServerResponse): void => {
    this.#run(req, res).catch(() => {
      if (!res.headersSent && !res.destroyed) res.destroy();
    });
  };

  async #run(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const record = this.#receive(req, url);
    const ctx: RequestContext = { req, res, record, url, body: Buffer.alloc(0), gone: false };
    this.#inFlight += 1;
    this.#maxInFlight = Math.max(this.#maxInFlight, this.#inFlight);
    res.once('close', () => {
      ctx.gone = true;
      this.#inFlight -= 1;
      if (this.#inFlight === 0) for (const resolve of this.#idleWaiters.splice(0)) resolve();
    });

    ctx.body = await readBody(req);
    this.#config.describeBody?.(ctx.body, req, record);
    await this.#holds.pass(ctx);
    if (this.#stopped(ctx)) return;
    const fault = this.#faults.take(record);
    if (fault && (await applyFault(ctx, fault, this.#config))) return;
    if (this.#stopped(ctx)) return;
    try {
      await this.#config.handler(ctx);
    } catch (error) {
      if (!res.headersSent) sendJson(ctx, 500, problem(500, `Sandbox error: ${String(error)}`));
    }
  }

  #stopped(ctx: RequestContext): boolean {
    return ctx.gone || this.#config.life.closed;
  }

  #receive(req: IncomingMessage, url: URL): SandboxRequestRecord {
    const record: SandboxRequestRecord = {
      endpoint: this.#config.kind,
      method: req.method ?? 'GET',
      path: url.pathname,
      query: queryObject(url),
      headers: redactHeaders(req),
      at: Date.now() - this.#config.startedAt,
    };
    this.#config.describeHead(req, record);
    this.#count += 1;
    this.#log.push(record);
    this.#arrivals.push(performance.now());
    if (this.#log.length > this.#config.logLimit) {
      this.#log.shift();
      this.#arrivals.shift();
    }
    return record;
  }
}
