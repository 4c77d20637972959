import { PassThrough, pipeline, type Readable } from 'node:stream';
import { AxiosError, AxiosHeaders } from 'axios';
import { redactSecretsInBody } from './body-redaction';
import { explainProblem } from './problem-details';

export const REDACTED = '[redacted]';

const SECRET_HEADERS = ['Authorization', 'ST-App-Key', 'Proxy-Authorization'] as const;

/**
 * Config fields that lead to live sockets: a keep-alive agent holds its busy and free sockets,
 * and through them the headers of other requests in flight (`_httpMessage._header`) and of the
 * request that opened each connection (the TLS connect options). DESIGN guarantee 18.
 */
const SOCKET_HOLDERS = ['httpAgent', 'httpsAgent'] as const;

/** How far a `cause` chain is followed: further than any real one, and no cycle runs forever. */
const MAX_CAUSE_DEPTH = 16;

/**
 * What is left of `error.request` (and `error.response.request`) on an axios error that passed
 * the plugin: the fields people read to say which call failed, nothing that can hold a secret.
 * The raw request (a Node `ClientRequest`) keeps the headers it sent in `_header`, in
 * `getHeaders()` and, through its socket and agent, in other requests; no property of it, hidden
 * or not, survives. `path` has no query string (a query can carry
 * `servicetitanapplicationkey`); the full URL is in `error.config`.
 *
 * @example
 * client.get(url).catch((error) => {
 *   if (axios.isAxiosError(error)) log.warn(`${error.request?.method} ${error.request?.path} failed`, error);
 *   throw error;
 * });
 */
export class RedactedRequest {
  /** `GET`, `POST`… */
  readonly method: string | undefined;
  /** `https:` or `http:`. */
  readonly protocol: string | undefined;
  /** The host the request went to (the last one, after redirects). */
  readonly host: string | undefined;
  /** The path, without the query string. */
  readonly path: string | undefined;

  constructor(raw: unknown) {
    const source = (raw ?? {}) as Record<string, unknown>;
    const text = (key: string) => (typeof source[key] === 'string' ? (source[key] as string) : undefined);
    this.method = text('method');
    this.protocol = text('protocol');
    this.host = text('host');
    this.path = text('path')?.split('?')[0];
    Object.freeze(this);
  }
}

/**
 * Makes an AxiosError safe to log before it reaches the caller: the token and app key are
 * replaced in its config, the agents are removed from it (`httpAgent` and `httpsAgent` become
 * `undefined`: a retry with `instance.request(error.config)` uses the instance's own), the raw
 * request is replaced by a {@link RedactedRequest}, a streamed error body is handed over through
 * a stream of its own, and AxiosErrors in the `cause` chain get the same, so that `util.inspect`
 * (even with `showHidden` and unlimited depth), `JSON.stringify`, `toJSON()` and a logger walking
 * the object cannot reach a secret, a socket or another request. The token and app key the
 * request carried, and `secrets` (the client's app key and client secret), are replaced in the
 * error body too, should the server echo one; then a ServiceTitan error body's status, title and
 * traceId go into the message ({@link explainProblem}).
 */
export function redactAxiosError(error: AxiosError, secrets: readonly string[] = []): AxiosError {
  const seen = new Set<unknown>();
  let current: unknown = error;
  for (let depth = 0; depth < MAX_CAUSE_DEPTH && current instanceof Error && !seen.has(current); depth += 1) {
    seen.add(current);
    if (current instanceof AxiosError) redactOne(current, secrets);
    current = current.cause;
  }
  return error;
}

function redactOne(error: AxiosError, secrets: readonly string[]): void {
  const sent = [...secretsIn(error.config), ...secretsIn(error.response?.config), ...secrets];
  redactConfig(error.config);
  if (error.response !== undefined && error.response.config !== error.config) redactConfig(error.response.config);
  if (error.request !== undefined && !(error.request instanceof RedactedRequest)) {
    const stub = new RedactedRequest(error.request);
    replace(error, 'request', stub);
    if (error.response !== undefined) replace(error.response, 'request', stub);
  } else if (error.response !== undefined && !(error.response.request instanceof RedactedRequest)) {
    replace(error.response, 'request', new RedactedRequest(error.response.request));
  }
  if (error.response !== undefined && isNodeResponseStream(error.response.data)) {
    replace(error.response, 'data', detachedStream(error.response.data));
  } else if (error.response !== undefined) {
    const data: unknown = error.response.data;
    const redacted = redactSecretsInBody(data, sent, REDACTED);
    if (redacted !== data) replace(error.response, 'data', redacted);
  }
  explainProblem(error);
}

/** The token and app key a request carried (read before its headers are redacted). */
function secretsIn(config: { headers?: unknown } | undefined): string[] {
  const headers = config?.headers;
  if (headers === undefined || headers === null) return [];
  const found: string[] = [];
  for (const name of SECRET_HEADERS) {
    const value: unknown = AxiosHeaders.prototype.get.call(headers, name);
    if (typeof value !== 'string' || value.includes(REDACTED)) continue;
    const credentials = /^\s*\w+\s+(.+)$/.exec(value)?.[1];
    found.push(name === 'ST-App-Key' || credentials === undefined ? value.trim() : credentials.trim());
  }
  return found;
}

function redactConfig(config: object | undefined): void {
  if (config === undefined || config === null) return;
  redactHeaders((config as { headers?: unknown }).headers);
  for (const key of SOCKET_HOLDERS) Reflect.deleteProperty(config, key);
}

/** `responseType: 'stream'`: the body is the response itself, which holds its socket and request. */
function isNodeResponseStream(data: unknown): data is Readable {
  return (
    data !== null &&
    typeof data === 'object' &&
    typeof (data as Readable).pipe === 'function' &&
    ('socket' in data || 'req' in data)
  );
}

/**
 * The same bytes through a stream that holds no reference to the response (only the listeners'
 * closures do); `pipeline` destroys the response, freeing its socket, if the caller destroys
 * this one.
 */
function detachedStream(source: Readable): Readable {
  const body = new PassThrough();
  pipeline(source, body, () => {});
  return body;
}

function redactHeaders(headers: unknown): void {
  if (headers === undefined || headers === null) return;
  for (const name of SECRET_HEADERS) {
    const value: unknown = AxiosHeaders.prototype.get.call(headers, name);
    if (typeof value === 'string') {
      const scheme = /^\s*(\w+)\s/.exec(value)?.[1];
      (AxiosHeaders.prototype.set as (name: string, value: string) => void).call(
        headers,
        name,
        scheme ? `${scheme} ${REDACTED}` : REDACTED,
      );
    }
  }
}

function replace(target: object, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}
