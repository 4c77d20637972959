import { isAxiosError, type AxiosError, type AxiosResponse } from 'axios';

/**
 * ServiceTitan's error body (`ApiErrorResponse` in every published spec, RFC 7807 style), as
 * {@link problemDetails} reads it. `traceId` is what ServiceTitan support asks for.
 */
export interface ProblemDetails {
  /** The HTTP status of the answer (the response's, which the body's `status` repeats). */
  status: number;
  /** A URI naming the kind of problem, e.g. `https://tools.ietf.org/html/rfc7231#section-6.5.1`. */
  type?: string;
  /** A short human-readable summary, e.g. `One or more validation errors occurred.` */
  title?: string;
  /** The id of the failed call in ServiceTitan's logs: quote it to ServiceTitan support. */
  traceId?: string;
  /** Validation messages by field name, e.g. `{ "Name": ["The Name field is required."] }`. */
  errors?: Record<string, string[]>;
}

/** Longer bodies are not read as a problem (ServiceTitan's are a few hundred bytes). */
const MAX_TEXT_BODY_BYTES = 64 * 1024;
/** Bounds on server text: a title or id is a line in a log, not a page. */
const MAX_TITLE_CHARS = 300;
const MAX_TYPE_CHARS = 300;
const MAX_TRACE_ID_CHARS = 128;
const MAX_ERROR_FIELDS = 100;
const MAX_MESSAGES_PER_FIELD = 20;
const MAX_ERROR_MESSAGE_CHARS = 500;

/**
 * ServiceTitan's error details from an error, or `undefined` when it has none: for an axios
 * error whose response (status ≥ 400) carries ServiceTitan's error body — a JSON object with a
 * string `title` or `traceId` (and, if any, a numeric `status`) — the body's fields, checked and
 * cleaned; for anything else (not an axios error, no response, a 2xx, another body such as the
 * token endpoint's `{ error }`, an array, a stream), `undefined`.
 *
 * The body is read whatever `responseType` the request used: parsed JSON, or JSON text in a
 * string, `Buffer` or `ArrayBuffer` when the response's `Content-Type` is JSON (up to 64 KiB).
 * Server text is cleaned: control characters become spaces, and `title`, `type`, `traceId` and
 * the `errors` are cut to a bounded length. On errors from a client or an attached instance,
 * the token, app key and client secret have been replaced by `[redacted]` in the body, should
 * the server echo one; and the error's `message` already names the status, title and traceId.
 *
 * @example
 * try {
 *   await client.post('/crm/v2/tenant/{tenant}/customers', customer);
 * } catch (error) {
 *   const problem = problemDetails(error);
 *   if (problem?.status === 400) console.error(problem.title, problem.errors, `traceId ${problem.traceId}`);
 *   throw error;
 * }
 */
export function problemDetails(error: unknown): ProblemDetails | undefined {
  if (!isAxiosError(error) || error.response === undefined || error.response === null) return undefined;
  const { status } = error.response;
  if (typeof status !== 'number' || !Number.isInteger(status) || status < 400) return undefined;
  const body = readJsonBody(error.response);
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return undefined;
  const fields = body as Record<string, unknown>;
  const { title, traceId, type, errors } = fields;
  if (typeof title !== 'string' && typeof traceId !== 'string') return undefined;
  if (fields['status'] !== undefined && typeof fields['status'] !== 'number') return undefined;

  const details: ProblemDetails = { status };
  if (typeof type === 'string') details.type = serverText(type, MAX_TYPE_CHARS);
  if (typeof title === 'string') details.title = serverText(title, MAX_TITLE_CHARS);
  if (typeof traceId === 'string') details.traceId = serverText(traceId, MAX_TRACE_ID_CHARS);
  const fieldErrors = validationErrors(errors);
  if (fieldErrors !== undefined) details.errors = fieldErrors;
  return details;
}

/**
 * Adds the status, title and traceId of a problem body to an axios error's message, once:
 * `Request failed with status code 400: The request is invalid. (traceId 0HM…)`. The stack's
 * first line follows, so `console.error(error)` shows it too.
 */
export function explainProblem(error: AxiosError): void {
  const details = problemDetails(error);
  if (details === undefined) return;
  const named = error.message.includes(String(details.status)) ? '' : ` (status ${details.status})`;
  const title = details.title === undefined || details.title === '' ? '' : `: ${details.title}`;
  const trace = details.traceId === undefined || details.traceId === '' ? '' : ` (traceId ${details.traceId})`;
  const suffix = `${named}${title}${trace}`;
  if (suffix === '' || error.message.endsWith(suffix)) return;
  // Read before the message changes: V8 formats a stack's first line on first access, so a stack
  // something formatted already (a logger, an interceptor) keeps the old message unless patched.
  // The read adds no work: axios's request() reads the stack of every error it rejects with (to
  // append the caller's frames), so this only formats it sooner (counted: two formats per failing
  // request with the read and without it, on the built package and under Jest).
  const stack = error.stack;
  const header = `${error.name}: ${error.message}`;
  error.message = `${error.message}${suffix}`;
  if (typeof stack === 'string' && stack.startsWith(header)) {
    error.stack = `${error.name}: ${error.message}${stack.slice(header.length)}`;
  }
}

function readJsonBody(response: AxiosResponse): unknown {
  const data: unknown = response.data;
  if (data === null || data === undefined) return undefined;
  let text: string | undefined;
  if (typeof data === 'string') text = data;
  else if (data instanceof Uint8Array)
    text = Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('utf8');
  else if (data instanceof ArrayBuffer) text = Buffer.from(data).toString('utf8');
  else if (typeof (data as { pipe?: unknown }).pipe === 'function')
    return undefined; // a stream: unread
  else return data;
  if (text.length > MAX_TEXT_BODY_BYTES || !isJsonContentType(response)) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/** `application/json`, `application/problem+json` and other `+json` types. */
function isJsonContentType(response: AxiosResponse): boolean {
  const headers = response.headers as { get?: (name: string) => unknown } & Record<string, unknown>;
  const value = typeof headers?.get === 'function' ? headers.get('content-type') : headers?.['content-type'];
  return typeof value === 'string' && /^\s*application\/([\w.-]+\+)?json\s*(;|$)/i.test(value);
}

function validationErrors(errors: unknown): Record<string, string[]> | undefined {
  if (errors === null || typeof errors !== 'object' || Array.isArray(errors)) return undefined;
  const result: Record<string, string[]> = {};
  let fields = 0;
  for (const [field, messages] of Object.entries(errors as Record<string, unknown>)) {
    if (fields >= MAX_ERROR_FIELDS) break;
    if (!Array.isArray(messages)) continue;
    const texts = messages
      .filter((message): message is string => typeof message === 'string')
      .slice(0, MAX_MESSAGES_PER_FIELD)
      .map((message) => serverText(message, MAX_ERROR_MESSAGE_CHARS));
    result[serverText(field, MAX_TITLE_CHARS)] = texts;
    fields += 1;
  }
  return result;
}

/**
 * Text from the server as it may go into a log line: control and format characters (newlines
 * that would forge log lines, ANSI escapes, bidirectional overrides) become spaces, and the
 * length is bounded.
 */
function serverText(text: string, maxChars: number): string {
  const clean = text
    .replace(/[\p{Cc}\p{Cf}]+/gu, ' ')
    .replace(/ {2,}/g, ' ')
    .trim();
  if (clean.length <= maxChars) return clean;
  // Never cut a surrogate pair in half.
  const cut = /[\uD800-\uDBFF]$/.test(clean.slice(0, maxChars - 1)) ? maxChars - 2 : maxChars - 1;
  return `${clean.slice(0, cut)}…`;
}
