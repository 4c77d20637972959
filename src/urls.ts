import { invalidConfig } from './errors';

const LOOPBACK_HOSTS = new Set(['localhost', '[::1]']);

/** True for 127.0.0.0/8, ::1 and localhost: the only hosts where cleartext `http:` is allowed. */
export function isLoopbackHost(hostname: string): boolean {
  return LOOPBACK_HOSTS.has(hostname) || /^127(\.\d{1,3}){3}$/.test(hostname);
}

/**
 * Parses an option that must be an absolute https URL (http only on loopback, for the sandbox):
 * tokens and secrets never travel in clear text. Throws `invalid_config` naming the option.
 */
export function parseSecureUrl(value: unknown, optionName: string): URL {
  if (typeof value !== 'string' || value.trim() === '') {
    throw invalidConfig(`${optionName} must be an absolute URL string, got ${describe(value)}`);
  }
  const checked = checkSecureUrl(value);
  if (checked instanceof URL) return checked;
  throw invalidConfig(`${optionName} ${checked.problem}${checked.shown === undefined ? '' : `, got ${checked.shown}`}`);
}

/** Why a string is not a secure URL: `problem` never quotes it, `shown` (when set) does. */
export interface UrlProblem {
  problem: string;
  shown?: string;
}

/**
 * {@link parseSecureUrl}'s checks, for callers that must not show the value (an environment
 * variable or a command-line flag can hold a secret pasted on the wrong line): they print
 * `problem` and drop `shown`.
 */
export function checkSecureUrl(value: string): URL | UrlProblem {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return { problem: 'is not a valid absolute URL', shown: JSON.stringify(value) };
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && isLoopbackHost(url.hostname))) {
    return {
      problem: 'must use https: (http: is allowed only on loopback hosts such as 127.0.0.1)',
      shown: `${url.protocol}//${url.host}`,
    };
  }
  if (url.username !== '' || url.password !== '') return { problem: 'must not contain credentials' };
  return url;
}

/** A short description of a bad option value for error messages (never the value of a secret). */
export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return value === '' ? 'an empty string' : 'a string';
  return typeof value === 'number' ? String(value) : typeof value;
}
