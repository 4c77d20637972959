import { AxiosHeaders, type AxiosError } from 'axios';

export const REDACTED = '[redacted]';

const SECRET_HEADERS = ['Authorization', 'ST-App-Key', 'Proxy-Authorization'] as const;

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
 * replaced in its config, and the raw request is replaced by a {@link RedactedRequest}, so that
 * `util.inspect` (even with `showHidden` and unlimited depth), `JSON.stringify`, `toJSON()` and
 * a logger walking the object cannot reach them.
 */
export function redactAxiosError(error: AxiosError): AxiosError {
  redactHeaders(error.config?.headers);
  if (error.response !== undefined && error.response.config !== error.config) {
    redactHeaders(error.response.config?.headers);
  }
  if (error.request !== undefined && !(error.request instanceof RedactedRequest)) {
    const stub = new RedactedRequest(error.request);
    replace(error, 'request', stub);
    if (error.response !== undefined) replace(error.response, 'request', stub);
  } else if (error.response !== undefined && !(error.response.request instanceof RedactedRequest)) {
    replace(error.response, 'request', new RedactedRequest(error.response.request));
  }
  return error;
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
