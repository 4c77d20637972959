/** Stable codes of {@link ServiceTitanAuthError}; switch on these, never on messages. */
export type ServiceTitanAuthErrorCode =
  /** The options are wrong (named in the message), or the instance already has the plugin. */
  | 'invalid_config'
  /** The token endpoint rejected the client id / secret. Never retried: fix the credentials. */
  | 'invalid_client'
  /** The token endpoint answered 429; `retryAfterMs` says when it may be asked again. */
  | 'rate_limited'
  /** Network error, timeout, 5xx (after retries) or another unexpected answer from the token endpoint. */
  | 'token_request_failed'
  /** The token endpoint answered 2xx with a body that is not a usable bearer token. */
  | 'invalid_token_response';

export interface ServiceTitanAuthErrorDetails {
  /** HTTP status of the token endpoint's answer, when there was one. */
  status?: number;
  /** The OAuth `error` field of the token endpoint's answer (e.g. `invalid_client`). */
  oauthError?: string;
  /** For `rate_limited`: how long to wait before asking again, in milliseconds. */
  retryAfterMs?: number;
  /** The underlying error. Never holds the request body, a secret or a token. */
  cause?: unknown;
}

/**
 * The brand every ServiceTitanAuthError carries, in the global symbol registry so that every
 * copy of the library (the ESM and the CommonJS build loaded side by side, or two installed
 * versions) recognises the others' errors: `instanceof` compares prototypes, which differ
 * between copies.
 */
const ERROR_BRAND = Symbol.for('axios-servicetitan-auth.ServiceTitanAuthError');

/**
 * The one error class of this library. Messages name what is wrong (the option, the endpoint,
 * the client id) and never contain the client secret, a token or the app key.
 *
 * `error instanceof ServiceTitanAuthError` is true for errors of any copy of the library loaded
 * in the process (checked by a `Symbol.for` brand), so it works when the ESM and the CommonJS
 * builds are both loaded.
 *
 * @example
 * try {
 *   await client.get('/crm/v2/tenant/{tenant}/customers');
 * } catch (error) {
 *   if (error instanceof ServiceTitanAuthError && error.code === 'invalid_client') rotateCredentials();
 *   else throw error;
 * }
 */
export class ServiceTitanAuthError extends Error {
  /** Brand check across copies of the library; subclasses keep the ordinary prototype check. */
  static override [Symbol.hasInstance](value: unknown): boolean {
    if (this !== ServiceTitanAuthError) return Function.prototype[Symbol.hasInstance].call(this, value);
    return value instanceof Error && (value as unknown as Record<symbol, unknown>)[ERROR_BRAND] === true;
  }

  override readonly name = 'ServiceTitanAuthError';
  readonly code: ServiceTitanAuthErrorCode;
  readonly status?: number;
  readonly oauthError?: string;
  readonly retryAfterMs?: number;

  constructor(code: ServiceTitanAuthErrorCode, message: string, details: ServiceTitanAuthErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.code = code;
    if (details.status !== undefined) this.status = details.status;
    if (details.oauthError !== undefined) this.oauthError = details.oauthError;
    if (details.retryAfterMs !== undefined) this.retryAfterMs = details.retryAfterMs;
  }
}

// On the prototype, not the instance: invisible to `JSON.stringify`, `Object.keys` and `toEqual`.
Object.defineProperty(ServiceTitanAuthError.prototype, ERROR_BRAND, { value: true });

/**
 * True for errors of this library, including ones thrown by another copy of it (an ESM and a
 * CommonJS copy loaded side by side: the `Symbol.for` brand), and by shape for copies older
 * than the brand.
 *
 * @example
 * const token = await auth.getToken().catch((error) => {
 *   if (isServiceTitanAuthError(error) && error.code === 'rate_limited') return undefined;
 *   throw error;
 * });
 */
export function isServiceTitanAuthError(error: unknown): error is ServiceTitanAuthError {
  return (
    error instanceof ServiceTitanAuthError ||
    (error instanceof Error &&
      error.name === 'ServiceTitanAuthError' &&
      typeof (error as { code?: unknown }).code === 'string')
  );
}

/** Shorthand for the synchronous option errors of attach time. */
export function invalidConfig(message: string): ServiceTitanAuthError {
  return new ServiceTitanAuthError('invalid_config', message);
}

/**
 * The error `paginate`, `exportPages` and `reportRows` throw when the server answers a body that is
 * not a ServiceTitan list page or export batch, or an export feed stops advancing. The message
 * names the URL (without its query string) and the page or position; it never contains the body.
 *
 * @example
 * try {
 *   for await (const customer of paginate(client, '/crm/v2/tenant/{tenant}/customers')) save(customer);
 * } catch (error) {
 *   if (error instanceof ServiceTitanResponseError) console.error(error.message); // URL and page, never the body
 *   else throw error;
 * }
 */
export class ServiceTitanResponseError extends Error {
  override readonly name = 'ServiceTitanResponseError';
  /** The request URL, without its query string. */
  readonly url: string;

  constructor(url: string, message: string) {
    super(message);
    this.url = url;
  }
}
