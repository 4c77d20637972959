import type { InternalAxiosRequestConfig } from 'axios';

// axios treats `scheme://` and protocol-relative `//host` URLs as absolute (helpers/isAbsoluteURL).
export const ABSOLUTE_URL = /^([a-z][a-z\d+\-.]*:)?\/\//i;

/**
 * Decides which requests may carry the token and app key: only those whose final URL is on the
 * environment's API origin or an explicitly allowed origin. Parsed origins are cached by base
 * URL, so the common case (relative URL on the instance's baseURL) costs a Map lookup.
 */
export class OriginPolicy {
  readonly #allowed: ReadonlySet<string>;
  readonly #verdictByBase = new Map<string, boolean>();

  constructor(allowedOrigins: ReadonlySet<string>) {
    this.#allowed = allowedOrigins;
  }

  /** Whether the request this config describes goes to an allowed origin. */
  allowsRequest(config: Pick<InternalAxiosRequestConfig, 'url' | 'baseURL' | 'allowAbsoluteUrls'>): boolean {
    const url = config.url ?? '';
    if (ABSOLUTE_URL.test(url) && config.allowAbsoluteUrls !== false) {
      return url.startsWith('//') ? false : this.allowsUrl(url);
    }
    const base = config.baseURL;
    if (base === undefined || base === '') return false;
    let verdict = this.#verdictByBase.get(base);
    if (verdict === undefined) {
      verdict = this.allowsUrl(base);
      if (this.#verdictByBase.size < 100) this.#verdictByBase.set(base, verdict);
    }
    return verdict;
  }

  /** Whether an absolute URL is on an allowed origin. */
  allowsUrl(url: string): boolean {
    try {
      return this.#allowed.has(new URL(url).origin);
    } catch {
      return false;
    }
  }
}
