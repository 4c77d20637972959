import { AxiosHeaders, type AxiosError } from 'axios';

export const REDACTED = '[redacted]';

const SECRET_HEADERS = ['Authorization', 'ST-App-Key', 'Proxy-Authorization'] as const;

/**
 * Makes an AxiosError safe to log before it reaches the caller: the token and app key are
 * replaced in its config, and the raw request (whose `_header` string holds them) is made
 * non-enumerable, so `util.inspect`, `JSON.stringify` and `toJSON()` cannot print them.
 */
export function redactAxiosError(error: AxiosError): AxiosError {
  const headers = error.config?.headers;
  if (headers !== undefined) {
    for (const name of SECRET_HEADERS) {
      const value = AxiosHeaders.prototype.get.call(headers, name);
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
  hide(error, 'request');
  if (error.response) hide(error.response, 'request');
  return error;
}

function hide(target: object, key: string): void {
  const descriptor = Object.getOwnPropertyDescriptor(target, key);
  if (descriptor?.enumerable) Object.defineProperty(target, key, { ...descriptor, enumerable: false });
}
