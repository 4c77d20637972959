// A namespace import, not `import { createRequire }`: see src/telemetry/optional-api.ts.
import * as nodeModule from 'node:module';
import type { ClientRequest } from 'node:http';

/**
 * Seeing the requests axios sends through its own CONNECT tunnel (DESIGN guarantee 17; see
 * written.ts for why a request counts from its write).
 *
 * An https request through a proxy (axios `proxy` config, or `HTTPS_PROXY`/`ALL_PROXY` unless
 * `NO_PROXY` excludes the host) does not go through the agents the exchange hands axios: axios
 * (1.16.1 to 1.21 at least, lib/adapters/http.js `setProxy`) puts in their place a tunnel agent
 * of its own, an `HttpsProxyAgent` (https-proxy-agent 5) it makes per proxy and per given
 * `httpsAgent` and keeps, which opens a CONNECT tunnel and the origin's TLS session for each
 * request. Counted from its hand-over, such a request was written a CONNECT and two handshakes
 * later: on a busy machine up to seconds, and the next window's burst, on time, met it at the
 * server (429s).
 *
 * Two ways were weighed. Handing axios a tunnel agent of our own (axios leaves an `httpsAgent`
 * that is an `HttpsProxyAgent` alone) means deciding, before axios does, whether a proxy applies:
 * axios's `NO_PROXY` rules (its own matcher on top of proxy-from-env's: CIDR ranges, loopback
 * equivalents, IPv4 shorthands, IDN) and its reading of `proxy` (auth object or URL credentials,
 * protocol, IPv6 hosts), per redirect hop as well; a copy would drift from the axios installed,
 * and a wrong guess sends through the proxy a request the user excluded from it. Instead, this
 * lets axios decide everything and tunnel as it does (same proxy auth, same `Proxy-Authorization`
 * on the CONNECT only, same redirect handling and tunnel reuse, the user's TLS options for both
 * connections), and gives the tunnel class's prototype an `addRequest` (process-wide, once) that
 * passes each request through the same code as the exchange's own agents (written.ts), then on
 * to the inherited one: no new dependency, and no work per request without a proxy. It acts on
 * a request only while an exchange of this library is sending (written.ts's `sending`, set
 * synchronously around the adapter call): every other `HttpsProxyAgent` request in the process
 * (another axios instance, a user's own agent) goes on untouched, at the cost of one call.
 *
 * The class is the one axios itself loads: resolved from where axios is installed, so a
 * different copy of https-proxy-agent elsewhere in the application is not the one changed. If
 * it cannot be found (a future axios tunnelling otherwise, axios bundled into the application),
 * nothing changes and such requests count from their hand-over, as before;
 * tests/rate-limit/proxy-tunnel.test.ts fails if the axios this package is tested with stops
 * tunnelling this way.
 *
 * A proxying agent the user gives as `httpsAgent` (with `proxy: false`, or an `HttpsProxyAgent`
 * axios leaves in place) needs none of this: it is the exchange's agent, wrapped like any other.
 */

/** An agent's `addRequest`, called with the agent as `this`. */
export type AddRequest = (this: object, request: ClientRequest, options: unknown) => void;

/** What an intercepted tunnel request goes through: written.ts's `addRequest`, handing on to `handOn`. */
export type InterceptTunnelRequest = (
  agent: object,
  handOn: AddRequest,
  request: ClientRequest,
  options: unknown,
) => void;

let intercepting = false;

/**
 * From now on, requests axios's tunnel agents are given pass through `intercept` first. Once per
 * process (later calls do nothing); called when the first wrapper of an exchange's agents is made,
 * so a process that never sends through this library changes nothing.
 */
export function interceptAxiosTunnels(intercept: InterceptTunnelRequest): void {
  if (intercepting) return;
  intercepting = true;
  const prototype = axiosTunnelPrototype();
  const handOn = (prototype as { addRequest?: unknown } | undefined)?.addRequest;
  if (prototype === undefined || typeof handOn !== 'function') return;
  // An own property of the tunnel class's prototype, over the inherited agent-base method it
  // hands on to: the tunnel agents axios made before this call are covered too.
  Object.defineProperty(prototype, 'addRequest', {
    configurable: true,
    writable: true,
    value: function addRequestThroughLimiter(this: object, request: ClientRequest, options: unknown): void {
      intercept(this, handOn as AddRequest, request, options);
    },
  });
}

/** The prototype of the `HttpsProxyAgent` class axios tunnels with, or `undefined`. */
function axiosTunnelPrototype(): object | undefined {
  try {
    const fromHere = nodeModule.createRequire(typeof __filename === 'string' ? __filename : import.meta.url);
    const fromAxios = nodeModule.createRequire(fromHere.resolve('axios'));
    const exported = fromAxios('https-proxy-agent') as
      ((...args: never[]) => unknown) | { HttpsProxyAgent?: { prototype?: unknown } };
    // Version 5 (axios's): a factory sharing the class's prototype; 7: a named class export.
    const prototype =
      typeof exported === 'function' ? (exported.prototype as unknown) : exported.HttpsProxyAgent?.prototype;
    return typeof prototype === 'object' && prototype !== null ? prototype : undefined;
  } catch {
    return undefined;
  }
}
