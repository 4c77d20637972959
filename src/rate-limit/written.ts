import { subscribe } from 'node:diagnostics_channel';
import type { ClientRequest } from 'node:http';
import type { InternalAxiosRequestConfig } from 'axios';

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

const ABSOLUTE_URL = /^[a-z][a-z\d+\-.]*:\/\//i;
/** Host per base URL: a client sends to one or two origins, and parsing each request's URL costs. */
const hosts = new Map<string, string | undefined>();
const MAX_HOSTS = 64;

/**
 * The Host header Node will send for `config` (undefined: not an http(s) URL). Only the origin
 * matters, so this reads the URL axios will use (`url` when absolute and allowed, else
 * `baseURL`) without building it (axios.getUri merges the whole config for that).
 */
function expectedHost(config: InternalAxiosRequestConfig): string | undefined {
  const absolute = config.url !== undefined && ABSOLUTE_URL.test(config.url) && config.allowAbsoluteUrls !== false;
  const origin = absolute ? config.url : (config.baseURL ?? config.url);
  if (origin === undefined) return undefined;
  if (hosts.has(origin)) return hosts.get(origin);
  let host: string | undefined;
  try {
    const url = new URL(origin);
    host = url.protocol === 'http:' || url.protocol === 'https:' ? url.host : undefined;
  } catch {
    host = undefined;
  }
  // Absolute request URLs can each be new: a bounded cache, emptied when full.
  if (hosts.size >= MAX_HOSTS) hosts.clear();
  hosts.set(origin, host);
  return host;
}

/**
 * Calls `send` (the adapter) and `written` when the request it starts has been written (see
 * above), or, for a request it cannot see, on the next turn of the event loop. `written` must be
 * idempotent: it is called on `finish` and again on `close`, and the caller calls it once more
 * when the exchange settles (a request may be dropped unseen).
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
  const entry: Expected = {
    method: (config.method ?? 'get').toUpperCase(),
    host: expectedHost(config),
    request: undefined,
  };
  expected.push(entry);
  try {
    return send();
  } finally {
    process.nextTick(() => {
      expected.splice(expected.indexOf(entry), 1);
      const request = entry.request;
      if (request === undefined) setImmediate(written);
      else if (request.writableFinished || request.destroyed) written();
      else {
        request.once('finish', written);
        request.once('close', written);
      }
    });
  }
}
