import http, { type Agent, type ClientRequest, type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import https from 'node:https';
import type { InternalAxiosRequestConfig } from 'axios';
import { interceptAxiosTunnels, type AddRequest } from './axios-tunnel';

/**
 * Knowing which requests an exchange sends and when each has been written, so a rate-limit place
 * counts exactly this client's requests (every redirect hop included), each from the moment it
 * left (DESIGN guarantee 17).
 *
 * When: on a new connection a request waits for DNS, TCP and TLS (100-300 ms to a distant API)
 * before its first byte is written, while one let through a second later goes out at once on a
 * warm connection; counting both from when they were let through put two windows' bursts in
 * one second at the server. A place is committed on the request's `finish` (its last byte
 * handed to the OS, after the connection is up) or `close` (it never got there: counting it
 * anyway is the safe side).
 *
 * Which: axios does not hand out the ClientRequest it creates, so the exchange hands axios its
 * agents wrapped (`httpAgent`, `httpsAgent`): Node calls the agent's `addRequest` with the very
 * request, synchronously while it is created, so only requests made with this exchange's config
 * reach the wrapper; another axios instance, `fetch` or `http.get` in the same process never do,
 * whatever host they call (matching requests seen on a diagnostics channel by method and Host,
 * as before, let them commit our places early: 429s). A wrapper, not a `transport`: with its own
 * `transport` axios stops configuring follow-redirects (`maxRedirects`, `beforeRedirect`, where
 * the client strips credentials on a foreign redirect), while every transport, follow-redirects,
 * Node's and a user's, hands the agent each request it sends. One wrapper per agent, kept:
 * axios caches per agent (its CONNECT tunnels for an https proxy), a wrapper per request would
 * open a tunnel per request. axios's tunnel agent (an https request through a proxy) is not
 * ours to wrap: its requests take the same path through its `addRequest` (axios-tunnel.ts).
 *
 * Redirect hops: follow-redirects creates the next hop's request inside the previous one's
 * `response` listener, synchronously, with the same agents; each hop is an arrival at a server,
 * so the wrapper holds it (no socket, nothing written) until the limits give it a place of its
 * own, and commits that place when the hop has been written.
 *
 * An https request through a proxy (axios `proxy`, or `HTTPS_PROXY` and `NO_PROXY` as axios
 * reads them) is seen too: axios sends it with a CONNECT tunnel agent of its own, whose
 * `addRequest` hands the request here first (axios-tunnel.ts), so it counts from its write, once
 * the CONNECT and both TLS handshakes are done, and each of its redirect hops holds for a place.
 *
 * What is not seen (no ClientRequest through the agent: the fetch adapter, HTTP/2
 * (`httpVersion: 2`), `httpAgent: false` for an http URL, an agent with Node's `proxyEnv`, a custom
 * adapter or transport that ignores the agent, an axios whose https-proxy-agent cannot be found
 * (axios-tunnel.ts)) counts from the next turn of the event loop after the hand-over, as if
 * written then, and its redirects, followed out of sight, are not counted.
 */

/** What the limiter does for one exchange. */
export interface ExchangePlaces {
  /** The exchange's first request has been written (or will never be seen): commit its places. Idempotent. */
  written(): void;
  /**
   * Undefined when the first request's places (or `hop`'s, from {@link reserveHop}) still count;
   * otherwise it settles once they have been replaced by new ones (rejects on the exchange's
   * abort). The fleet's place of a request whose process did not run for most of a window since
   * its take may have left the store's window meanwhile, and been taken by another process: the
   * request is held (no socket, nothing written) until it has a new one.
   */
  renewStale(hop?: ReservedPlace): Promise<void> | undefined;
  /** Whether {@link renewStale} can ever replace anything (a fleet's place): else the write is not watched. */
  mayGoStale(): boolean;
  /** Places for a redirect hop: resolves once the limits have room, rejects on the exchange's abort. */
  reserveHop(): Promise<ReservedPlace>;
}

/** A request's or a redirect hop's places (the rolling second's, the fleet's), reserved. */
export interface ReservedPlace {
  /** The hop has been written: it counts from now. */
  commit(): void;
  /** The hop will not be sent: its places are freed. */
  cancel(): void;
  /** For the exchange's first request and its hops: see {@link ExchangePlaces.renewStale}. Places that never lapse leave it out. */
  renewIfStale?(signal: AbortSignal): Promise<void> | undefined;
}

/**
 * One call of {@link sendAndWhenWritten}: its exchange, and whether the wrapper has handed on the
 * exchange's first request (a later one is a redirect hop). A plain record, not a WeakSet of
 * started exchanges: a WeakSet entry per request is an ephemeron the garbage collector must trace
 * (issue 18 item 6).
 */
interface Sending {
  readonly places: ExchangePlaces;
  started: boolean;
}

/** The exchange whose code runs now: its request is being created (see above). */
let sending: Sending | undefined;

/** Node calls it with each request made with the agent (undocumented in @types/node, stable since 0.x). */
type RequestAgent = Agent & { addRequest: AddRequest };

const wrappers = new WeakMap<Agent, Agent>();
const wrapped = new WeakSet<Agent>();

/**
 * Calls `adapter` with the config's agents wrapped, and `places.written` when its request has
 * been written or, for a request it cannot see, on the next turn of the event loop; each redirect
 * hop takes places through `places.reserveHop` before it is sent. The config's agents are restored
 * once the adapter returns (axios reads them synchronously), so a retry, an error's `config` and
 * the caller see their own.
 */
export function sendAndWhenWritten<T>(
  config: InternalAxiosRequestConfig,
  adapter: (config: InternalAxiosRequestConfig) => Promise<T>,
  places: ExchangePlaces,
): Promise<T> {
  // Inline rather than a restore closure per agent: this runs for every request.
  const hadHttpAgent = Object.prototype.hasOwnProperty.call(config, 'httpAgent');
  const hadHttpsAgent = Object.prototype.hasOwnProperty.call(config, 'httpsAgent');
  const httpAgent = config.httpAgent as Agent | false | undefined;
  const httpsAgent = config.httpsAgent as Agent | false | undefined;
  const httpWrapper = wrapperOf(httpAgent, http.globalAgent);
  const httpsWrapper = wrapperOf(httpsAgent, https.globalAgent);
  if (httpWrapper !== undefined) config.httpAgent = httpWrapper;
  if (httpsWrapper !== undefined) config.httpsAgent = httpsWrapper;
  const send: Sending = { places, started: false };
  sending = send;
  try {
    return adapter(config);
  } finally {
    // Never nested (an adapter does not start another exchange synchronously); cleared, so a
    // request created later, out of sight, is never taken for this one's.
    sending = undefined;
    if (httpWrapper !== undefined) restoreAgent(config, 'httpAgent', hadHttpAgent, httpAgent);
    if (httpsWrapper !== undefined) restoreAgent(config, 'httpsAgent', hadHttpsAgent, httpsAgent);
    if (!send.started) setImmediate(writtenUnseen, places);
  }
}

/** The wrapper to put in place of the config's agent (or of the global one it falls back to). */
function wrapperOf(own: Agent | false | undefined, globalAgent: Agent): Agent | undefined {
  return own === false ? undefined : wrapperFor(own ?? globalAgent);
}

function restoreAgent(
  config: InternalAxiosRequestConfig,
  key: 'httpAgent' | 'httpsAgent',
  given: boolean,
  own: Agent | false | undefined,
): void {
  if (given) config[key] = own;
  else delete config[key];
}

function wrapperFor(agent: Agent): Agent | undefined {
  if (wrapped.has(agent)) return agent;
  if (typeof (agent as Partial<RequestAgent>).addRequest !== 'function') return undefined;
  // axios refuses to adapt an agent with Node's own env proxy whose addRequest is overridden.
  if ((agent as { options?: { proxyEnv?: unknown } }).options?.proxyEnv != null) return undefined;
  let wrapper = wrappers.get(agent);
  if (wrapper === undefined) {
    // Here, not per request: a process's first exchange makes its first wrappers.
    interceptAxiosTunnels(addRequest);
    // Everything but addRequest is the agent's own (options, protocol, pools): Node reads them
    // through the wrapper, and the agent itself gets every request and keeps every socket.
    wrapper = Object.create(agent, {
      addRequest: {
        value: (request: ClientRequest, options: unknown) =>
          addRequest(agent, (agent as RequestAgent).addRequest, request, options),
      },
    }) as Agent;
    wrappers.set(agent, wrapper);
    wrapped.add(wrapper);
  }
  return wrapper;
}

/**
 * Where each request made with an exchange's agent (or axios's tunnel agent) goes first; `handOn`
 * is the agent's own `addRequest`, called with the agent as `this`.
 */
function addRequest(agent: object, handOn: AddRequest, request: ClientRequest, options: unknown): void {
  const send = sending;
  // Another's request (through an HttpsProxyAgent of the application's, another axios instance's
  // tunnel), or an unseen creation (after an await in axios: a form-data body whose length is
  // read first), which its exchange counted from the hand-over already.
  if (send === undefined) return handOn.call(agent, request, options);
  sending = undefined;
  const places = send.places;
  if (!send.started) {
    send.started = true;
    whenWritten(request, send, () => places.written());
    // Emitted once per request: a plain listener (see whenWritten); none for places that never lapse.
    if (places.mayGoStale()) {
      request.on('socket', (socket: Socket) => writeOnceFresh(request, socket, places));
    }
    return handOn.call(agent, request, options);
  }
  const reserved = places.reserveHop().then((place) => {
    if (request.destroyed) {
      place.cancel();
      return;
    }
    whenWritten(request, send, () => place.commit());
    // A hop waits for its socket like any request (a new connection, the agent's queue, a
    // process stopped meanwhile): its fleet place gets the same last look.
    if (place.renewIfStale !== undefined) {
      request.on('socket', (socket: Socket) => writeOnceFresh(request, socket, places, place));
    }
  });
  handOnOnceSettled(reserved, agent, handOn, request, options);
}

/**
 * The last look at a request's places (the first request's, or a redirect hop's) before its
 * bytes go: Node writes them right after it emits `socket` (a connected socket), or once the
 * socket connects. The process may have been stopped anywhere before (in axios, in the event
 * loop's queues, in the agent, during the connect): a place gone stale by then is replaced first
 * (ExchangePlaces.renewStale, with `hop` for a redirect hop's), the socket corked meanwhile, so
 * that what Node writes waits in it and goes at the uncork. Looked at once the socket is up,
 * the check is the last code that runs before the write. On the exchange's abort the request is
 * destroyed, nothing written.
 */
function writeOnceFresh(request: ClientRequest, socket: Socket, places: ExchangePlaces, hop?: ReservedPlace): void {
  socket.cork();
  const look = () => {
    const renewing = places.renewStale(hop);
    // Fresh: written now, in this turn, as without the check.
    if (renewing === undefined) {
      socket.uncork();
      return;
    }
    renewing.then(
      () => socket.uncork(),
      (reason: unknown) => request.destroy(reason instanceof Error ? reason : undefined),
    );
  };
  if (socket.connecting) socket.once('connect', look);
  else look();
}

/**
 * Hands a held hop on to its agent once `ready` (its places) settles. Rejected (the exchange's
 * abort), it is destroyed first: Node ends a destroyed request once the agent hands it a socket,
 * without writing anything, and emits its `close` as for any request.
 */
function handOnOnceSettled(
  ready: Promise<void>,
  agent: object,
  handOn: AddRequest,
  request: ClientRequest,
  options: unknown,
): void {
  ready.then(
    () => handOnOutOfTurn(agent, handOn, request, options),
    (reason: unknown) => {
      if (!request.destroyed) request.destroy(reason instanceof Error ? reason : undefined);
      handOnOutOfTurn(agent, handOn, request, options);
    },
  );
}

/**
 * Hands a held hop on to its agent with no exchange sending: its agent may be a tunnel agent that
 * passes it through `addRequest` again (axios-tunnel.ts), and another exchange's unfollowed 3xx
 * may have left `sending` set until the end of these microtasks (see whenWritten). Says whether
 * the hop is https: agent-base 6 (https-proxy-agent 5: axios's tunnel agent, and many users'
 * proxy agents) tells by looking for Node's https module in the call stack unless
 * `secureEndpoint` says so, and a hop handed on later has no such caller: it would be sent in
 * clear text into the tunnel (the server hangs up).
 */
function handOnOutOfTurn(agent: object, handOn: AddRequest, request: ClientRequest, options: unknown): void {
  const other = sending;
  sending = undefined;
  try {
    handOn.call(agent, request, withSecureEndpoint(request, options));
  } finally {
    sending = other;
  }
}

function withSecureEndpoint(request: ClientRequest, options: unknown): unknown {
  if (typeof options !== 'object' || options === null) return options;
  if (typeof (options as { secureEndpoint?: unknown }).secureEndpoint === 'boolean') return options;
  return { ...options, secureEndpoint: request.protocol === 'https:' };
}

function whenWritten(request: ClientRequest, send: Sending, written: () => void): void {
  // Plain listeners, not `once`: `written` is idempotent and a request emits each of these events
  // at most once, so the once-wrappers would only cost (one allocation each, on every request).
  request.on('finish', written);
  request.on('close', written);
  // follow-redirects sends the next hop from its own `response` listener, which Node registered
  // when the request was created, before this one runs, and only for a 3xx: the hop is created
  // synchronously in that listener, and takes `sending` at once. A 3xx it does not follow leaves
  // `sending` set until the microtasks that run once this event's listeners have returned,
  // before any reaction to the response (axios settles through promises, queued after this).
  request.prependListener('response', (response: IncomingMessage) => {
    const status = response.statusCode ?? 0;
    if (status < 300 || status >= 400) return;
    sending = send;
    queueMicrotask(() => {
      if (sending === send) sending = undefined;
    });
  });
}

/** A request that was never seen (see above) counts from the turn after its hand-over. */
function writtenUnseen(places: ExchangePlaces): void {
  places.written();
}
