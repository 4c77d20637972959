import { subscribe } from 'node:diagnostics_channel';
import type { ClientRequest } from 'node:http';
import axios, { type InternalAxiosRequestConfig } from 'axios';

/**
 * Knowing when a request has been written, so a rate-limit place counts from the moment the
 * request left, not from when it was let through.
 *
 * The gap matters on a new connection: the request waits for DNS, TCP and TLS (a few round
 * trips, 100-300 ms to a distant API) before its first byte is written, while a request let
 * through a second later goes out at once on a warm connection. Counting both from when they
 * were let through put a cold start's first window and the next one in the same second at the
 * server (with 250 ms of connection set-up: 65 arrivals in a second, 429s).
 *
 * axios does not hand out the request it creates, so it is recognised: Node publishes every
 * ClientRequest on the `http.client.request.start` diagnostics channel in a `process.nextTick`
 * queued while the request was created (when it gets its socket), before the tick queued here
 * right after the adapter call. Requests are matched in call order by method and Host, and the
 * place is committed on the request's `finish` (its last byte handed to the OS, after the
 * connection is up) or `close` (it never got there: counting it anyway is the safe side).
 * Adapters that create no ClientRequest (fetch, a custom one), and requests queued behind an
 * agent's `maxSockets`, are not recognised: their place counts from the next turn of the event
 * loop, as if written then.
 */
interface Expected {
  method: string;
  host: string | undefined;
  request: ClientRequest | undefined;
}

/** Adapter calls whose tick has not run yet, in call order. */
const expected: Expected[] = [];
let listening = false;

function onRequestStart(message: unknown): void {
  const request = (message as { request?: ClientRequest }).request;
  if (request === undefined || expected.length === 0) return;
  const host = request.getHeader('host');
  const match = expected.find(
    (candidate) => candidate.request === undefined && candidate.method === request.method && candidate.host === host,
  );
  if (match !== undefined) match.request = request;
}

/** The Host header Node will send for `config` (undefined: not an absolute http(s) URL). */
function expectedHost(config: InternalAxiosRequestConfig): string | undefined {
  try {
    const url = new URL(axios.getUri(config));
    return url.protocol === 'http:' || url.protocol === 'https:' ? url.host : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Calls `send` (the adapter) and `written` once, when the request it starts has been written
 * (see above), or, for a request it cannot see, on the next turn of the event loop. `written`
 * is called at the latest when the exchange settles.
 */
export function sendAndWhenWritten<T>(
  config: InternalAxiosRequestConfig,
  send: () => Promise<T>,
  written: () => void,
): Promise<T> {
  if (!listening) {
    subscribe('http.client.request.start', onRequestStart);
    listening = true;
  }
  let done = false;
  const once = () => {
    if (done) return;
    done = true;
    written();
  };
  const entry: Expected = {
    method: (config.method ?? 'get').toUpperCase(),
    host: expectedHost(config),
    request: undefined,
  };
  expected.push(entry);
  let exchange: Promise<T>;
  try {
    exchange = send();
  } finally {
    process.nextTick(() => {
      expected.splice(expected.indexOf(entry), 1);
      const request = entry.request;
      if (request === undefined) setImmediate(once);
      else if (request.writableFinished || request.destroyed) once();
      else {
        request.once('finish', once);
        request.once('close', once);
      }
    });
  }
  return exchange.finally(once);
}
