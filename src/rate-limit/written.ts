import http, { type Agent, type ClientRequest } from 'node:http';
import https from 'node:https';
import type { InternalAxiosRequestConfig } from 'axios';

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
 * open a tunnel per request.
 *
 * Redirect hops: follow-redirects creates the next hop's request inside the previous one's
 * `response` listener, synchronously, with the same agents; each hop is an arrival at a server,
 * so the wrapper holds it (no socket, nothing written) until the limits give it a place of its
 * own, and commits that place when the hop has been written.
 *
 * What is not seen (no ClientRequest through the agent: the fetch adapter, HTTP/2
 * (`httpVersion: 2`), an https request through a proxy (axios's own tunnel agent), `httpAgent:
 * false`, an agent with Node's `proxyEnv`, a custom adapter or transport that ignores the agent)
 * counts from the next turn of the event loop after the hand-over, as if written then, and its
 * redirects, followed out of sight, are not counted.
 */

/** What the limiter does for one exchange. */
export interface ExchangePlaces {
  /** The exchange's first request has been written (or will never be seen): commit its places. Idempotent. */
  written(): void;
  /** Places for a redirect hop: resolves once the limits have room, rejects on the exchange's abort. */
  reserveHop(): Promise<ReservedPlace>;
}

/** A request's or a redirect hop's places (the rolling second's, the fleet's), reserved. */
export interface ReservedPlace {
  /** The hop has been written: it counts from now. */
  commit(): void;
  /** The hop will not be sent: its places are freed. */
  cancel(): void;
}

/** The exchange whose code runs now: its request is being created (see above). */
let sending: ExchangePlaces | undefined;
/** Exchanges whose first request the wrapper has handed on. */
const started = new WeakSet<ExchangePlaces>();

/** Node calls it with each request made with the agent (undocumented in @types/node, stable since 0.x). */
type RequestAgent = Agent & { addRequest(request: ClientRequest, options: unknown): void };

const wrappers = new WeakMap<Agent, Agent>();
const wrapped = new WeakSet<Agent>();

/**
 * Calls `send` (the adapter) with the config's agents wrapped, and `places.written` when its
 * request has been written or, for a request it cannot see, on the next turn of the event loop;
 * each redirect hop takes places through `places.reserveHop` before it is sent. The config's
 * agents are restored once `send` returns (axios reads them synchronously), so a retry, an error's
 * `config` and the caller see their own.
 */
export function sendAndWhenWritten<T>(
  config: InternalAxiosRequestConfig,
  send: () => Promise<T>,
  places: ExchangePlaces,
): Promise<T> {
  const restore = [
    wrapAgent(config, 'httpAgent', http.globalAgent),
    wrapAgent(config, 'httpsAgent', https.globalAgent),
  ];
  sending = places;
  try {
    return send();
  } finally {
    // Never nested (an adapter does not start another exchange synchronously); cleared, so a
    // request created later, out of sight, is never taken for this one's.
    sending = undefined;
    for (const undo of restore) undo();
    if (!started.has(places)) setImmediate(() => places.written());
  }
}

function wrapAgent(
  config: InternalAxiosRequestConfig,
  key: 'httpAgent' | 'httpsAgent',
  globalAgent: Agent,
): () => void {
  const given = Object.prototype.hasOwnProperty.call(config, key);
  const own = config[key] as Agent | false | undefined;
  const agent = own ?? globalAgent;
  const wrapper = agent === false ? undefined : wrapperFor(agent);
  if (wrapper === undefined) return () => undefined;
  config[key] = wrapper;
  return () => {
    if (given) config[key] = own;
    else delete config[key];
  };
}

function wrapperFor(agent: Agent): Agent | undefined {
  if (wrapped.has(agent)) return agent;
  if (typeof (agent as Partial<RequestAgent>).addRequest !== 'function') return undefined;
  // axios refuses to adapt an agent with Node's own env proxy whose addRequest is overridden.
  if ((agent as { options?: { proxyEnv?: unknown } }).options?.proxyEnv != null) return undefined;
  let wrapper = wrappers.get(agent);
  if (wrapper === undefined) {
    // Everything but addRequest is the agent's own (options, protocol, pools): Node reads them
    // through the wrapper, and the agent itself gets every request and keeps every socket.
    wrapper = Object.create(agent, {
      addRequest: {
        value: (request: ClientRequest, options: unknown) => addRequest(agent as RequestAgent, request, options),
      },
    }) as Agent;
    wrappers.set(agent, wrapper);
    wrapped.add(wrapper);
  }
  return wrapper;
}

function addRequest(agent: RequestAgent, request: ClientRequest, options: unknown): void {
  const places = sending;
  sending = undefined;
  const handOn = () => agent.addRequest(request, options);
  // Unseen creation (after an await in axios: a form-data body whose length is read first): the
  // exchange counted it from the hand-over already.
  if (places === undefined) return handOn();
  if (!started.has(places)) {
    started.add(places);
    whenWritten(request, places, () => places.written());
    return handOn();
  }
  places.reserveHop().then(
    (place) => {
      if (request.destroyed) place.cancel();
      else whenWritten(request, places, () => place.commit());
      handOn();
    },
    (reason: unknown) => {
      // Aborted while waiting: Node ends a destroyed request once the agent hands it a socket,
      // without writing anything, and emits its `close` as for any request.
      if (!request.destroyed) request.destroy(reason instanceof Error ? reason : undefined);
      handOn();
    },
  );
}

function whenWritten(request: ClientRequest, places: ExchangePlaces, written: () => void): void {
  // Plain listeners, not `once`: `written` is idempotent and a request emits each of these events
  // at most once, so the once-wrappers would only cost (one allocation each, on every request).
  request.on('finish', written);
  request.on('close', written);
  // follow-redirects sends the next hop from its own `response` listener, which Node registered
  // when the request was created, before this: the hop is created between these two.
  request.prependListener('response', () => {
    sending = places;
  });
  request.on('response', () => {
    if (sending === places) sending = undefined;
  });
}
