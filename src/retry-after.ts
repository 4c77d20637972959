import type { AxiosError } from 'axios';

/** `Retry-After` in ms (RFC 9110 §10.2.3: delay-seconds or an HTTP date), or undefined if absent/invalid. */
export function retryAfterMs(error: AxiosError | undefined): number | undefined {
  const header: unknown = error?.response?.headers?.['retry-after'];
  if (typeof header !== 'string' || header.trim() === '') return undefined;
  if (/^\d+$/.test(header.trim())) return Number(header.trim()) * 1000;
  const date = Date.parse(header);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}
