import type { InternalAxiosRequestConfig } from 'axios';
import { warnUser } from './logging/logger';
import type { ResolvedOptions } from './options';
import { ABSOLUTE_URL } from './origin-policy';

/**
 * At most this many origins are remembered (and warned about) per handle: an instance that also
 * scans thousands of hosts must not grow memory without bound. Past it, nothing more is logged.
 */
export const MAX_WARNED_ORIGINS = 100;

// `/crm/v2/tenant/123/…`, `/telecom/v3/tenant/{tenant}/calls`: the shape of ServiceTitan API paths.
const SERVICETITAN_API_PATH = /\/v\d+\/tenant\/(?:\d+|\{tenant\}|%7Btenant%7D)(?:[/?#]|$)/i;
// api.servicetitan.io, api-integration.servicetitan.io.
const SERVICETITAN_API_HOST = /^api(?:-[a-z0-9-]+)?\.servicetitan\.io$/i;
// The usual names of this machine; other 127.x addresses are other services' (and our tests').
const LOOPBACK_HOST = /^(?:localhost|127\.0\.0\.1|\[::1\])$/i;

/**
 * Says why a request that looks like ServiceTitan API traffic went out without the token and
 * app key: its origin is not the environment's API origin nor in `allowedOrigins` (issue 19
 * item 7: `localhost` while the environment says `127.0.0.1` got 401 "no bearer token" and not a
 * word at any log level). One `warn` per origin per handle to the user's logger; without one, a
 * single `ServiceTitanAuthWarning` per process (code `ST_AUTH_CREDENTIALS_WITHHELD`), so the
 * newcomer who configured nothing is told too. Origins only: never the URL's query, a token or
 * the app key.
 */
export class WithheldCredentialsNotice {
  readonly #options: Pick<ResolvedOptions, 'logger' | 'apiOrigin' | 'allowedOrigins' | 'authUrl'>;
  readonly #authOrigin: string;
  readonly #warned = new Set<string>();

  constructor(options: Pick<ResolvedOptions, 'logger' | 'apiOrigin' | 'allowedOrigins' | 'authUrl'>) {
    this.#options = options;
    this.#authOrigin = new URL(options.authUrl).origin;
  }

  /** For a request the origin policy refused (not one with `serviceTitanAuth.skip`). */
  withheld(config: Pick<InternalAxiosRequestConfig, 'url' | 'baseURL' | 'allowAbsoluteUrls' | 'method'>): void {
    if (this.#warned.size >= MAX_WARNED_ORIGINS) return;
    const target = requestTarget(config);
    const key = target?.origin ?? 'relative';
    if (this.#warned.has(key) || key === this.#authOrigin) return;
    if (!this.#looksLikeServiceTitanApi(target, config.url ?? '')) return;
    this.#warned.add(key);
    const { apiOrigin, logger } = this.#options;
    const why =
      target === undefined
        ? `the URL is relative and the instance has no baseURL: set its baseURL to ${apiOrigin}`
        : `${target.origin} is not the environment's API origin (${apiOrigin}) nor in allowedOrigins: ` +
          `set the instance's baseURL to ${apiOrigin}, or add ${target.origin} to allowedOrigins if it is yours`;
    warnUser(logger, 'ST_AUTH_CREDENTIALS_WITHHELD', `ServiceTitan token and app key not sent: ${why}`, {
      details: { origin: target?.origin, apiOrigin, method: config.method?.toUpperCase() },
      loggedSuffix: ' (logged once per origin)',
      printedSuffix: ' (printed once per process: pass a logger to hear of every origin)',
    });
  }

  #looksLikeServiceTitanApi(target: URL | undefined, url: string): boolean {
    if (target === undefined) return SERVICETITAN_API_PATH.test(url);
    if (SERVICETITAN_API_PATH.test(target.pathname) || SERVICETITAN_API_HOST.test(target.hostname)) return true;
    // The environment's API host spelt differently: another loopback name, another port or scheme.
    const host = sameHostKey(target.hostname);
    for (const origin of this.#options.allowedOrigins) {
      if (sameHostKey(new URL(origin).hostname) === host) return true;
    }
    return false;
  }
}

/** The URL the request goes to, as axios builds it (`baseURL` + `url`), or `undefined` without a base. */
function requestTarget(
  config: Pick<InternalAxiosRequestConfig, 'url' | 'baseURL' | 'allowAbsoluteUrls'>,
): URL | undefined {
  const url = config.url ?? '';
  const absolute = ABSOLUTE_URL.test(url) && config.allowAbsoluteUrls !== false;
  const base = config.baseURL;
  const full = absolute || !base ? url : url === '' ? base : `${base.replace(/\/+$/, '')}/${url.replace(/^\/+/, '')}`;
  try {
    return new URL(full);
  } catch {
    return undefined;
  }
}

function sameHostKey(hostname: string): string {
  return LOOPBACK_HOST.test(hostname) ? 'loopback' : hostname.toLowerCase();
}
