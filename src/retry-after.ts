import type { AxiosError } from 'axios';

const DELAY_SECONDS = /^\d+$/;
// RFC 9110 §5.6.7: IMF-fixdate, and the obsolete RFC 850 and asctime forms, all in GMT. Date.parse
// alone is far too lenient: it reads "-5" and "1.5" as dates in 2001.
const IMF_FIXDATE = /^[A-Za-z]{3}, \d{2} [A-Za-z]{3} \d{4} \d{2}:\d{2}:\d{2} GMT$/;
const RFC850_DATE = /^[A-Za-z]{6,9}, \d{2}-[A-Za-z]{3}-\d{2} \d{2}:\d{2}:\d{2} GMT$/;
const ASCTIME_DATE = /^[A-Za-z]{3} [A-Za-z]{3} [ \d]\d \d{2}:\d{2}:\d{2} \d{4}$/;

/**
 * `Retry-After` in ms (RFC 9110 §10.2.3: delay-seconds or an HTTP date), or undefined when it is
 * absent or means nothing: negative, fractional or otherwise malformed values, and dates that have
 * passed (the server's clock may be ahead of ours; the caller's default wait is the safer reading).
 * Not capped: every place that honours it caps it with {@link cappedRetryAfterMs}.
 */
export function retryAfterMs(error: AxiosError | undefined): number | undefined {
  const header: unknown = error?.response?.headers?.['retry-after'];
  if (typeof header !== 'string') return undefined;
  const value = header.trim();
  if (DELAY_SECONDS.test(value)) return Number(value) * 1000;
  let date = Number.NaN;
  if (IMF_FIXDATE.test(value) || RFC850_DATE.test(value)) date = Date.parse(value);
  else if (ASCTIME_DATE.test(value)) date = Date.parse(`${value} GMT`);
  const wait = date - Date.now();
  return wait > 0 ? wait : undefined;
}

/**
 * `Retry-After` as honoured (DESIGN guarantee 16): at most `maxMs`, so a server asking for years
 * (or a value that overflows to Infinity) holds the client for `maxMs` at most; undefined as in
 * {@link retryAfterMs}.
 */
export function cappedRetryAfterMs(error: AxiosError | undefined, maxMs: number): number | undefined {
  const wait = retryAfterMs(error);
  return wait === undefined ? undefined : Math.min(wait, maxMs);
}
