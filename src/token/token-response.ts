import { ServiceTitanAuthError } from '../errors';
import type { ServiceTitanLogger } from '../logging/logger';
import type { StoredToken } from '../stores/types';

/**
 * The lifetime assumed when a token answer has no `expires_in`: ServiceTitan documents 900 s,
 * and RFC 6749 §5.1 lets a server document its default instead of sending one.
 */
export const DEFAULT_TOKEN_LIFETIME_SECONDS = 900;

/**
 * The longest lifetime believed (24 h); a larger `expires_in` is clamped to it. ServiceTitan
 * issues 900 s tokens: a far larger value is a broken or hostile endpoint, and trusting it would
 * keep a token for years (and `expires_in: 1e13` is past the end of JavaScript's dates).
 */
export const MAX_TOKEN_LIFETIME_SECONDS = 86_400;

/** Turns a 2xx body of the token endpoint into a token, or throws `invalid_token_response`. */
export type TokenResponseParser = (body: unknown, requestedAt: number) => StoredToken;

/**
 * Strict checks in the manner of oauth4webapi, plus a policy for `expires_in`:
 * - a finite number > 0 up to 24 h: used as is;
 * - absent: {@link DEFAULT_TOKEN_LIFETIME_SECONDS} (warns once per handle);
 * - above 24 h: clamped to {@link MAX_TOKEN_LIFETIME_SECONDS} (warns once per handle);
 * - 0, negative, not a number (or a string), NaN: `invalid_token_response` (an already expired
 *   token would make every request fetch a new one).
 *
 * @example
 * const parse = createTokenResponseParser('https://auth.servicetitan.io/connect/token', logger);
 * const token = parse(response.data, requestedAt);
 */
export function createTokenResponseParser(authUrl: string, logger: ServiceTitanLogger): TokenResponseParser {
  const warned = new Set<string>();
  const warnOnce = (message: string, details: Record<string, unknown>): void => {
    if (warned.has(message)) return;
    warned.add(message);
    logger.warn?.(message, details);
  };

  return (body, requestedAt) => {
    const fail = (problem: string) =>
      new ServiceTitanAuthError('invalid_token_response', `The token endpoint ${authUrl} answered 2xx but ${problem}`);
    if (body === null || typeof body !== 'object' || Array.isArray(body)) throw fail('the body is not a JSON object');
    const {
      access_token: accessToken,
      token_type: tokenType,
      expires_in: expiresIn,
      scope,
    } = body as Record<string, unknown>;
    if (typeof accessToken !== 'string' || accessToken === '') throw fail('"access_token" is not a non-empty string');
    if (typeof tokenType !== 'string' || tokenType.toLowerCase() !== 'bearer') {
      throw fail('"token_type" is not "Bearer"');
    }
    let lifetimeSeconds: number;
    if (expiresIn === undefined) {
      lifetimeSeconds = DEFAULT_TOKEN_LIFETIME_SECONDS;
      warnOnce(`the token endpoint sent no "expires_in": assuming ${DEFAULT_TOKEN_LIFETIME_SECONDS} s`, {
        authUrl,
      });
    } else if (typeof expiresIn !== 'number' || !Number.isFinite(expiresIn) || expiresIn <= 0) {
      throw fail('"expires_in" is not a finite number > 0');
    } else if (expiresIn > MAX_TOKEN_LIFETIME_SECONDS) {
      lifetimeSeconds = MAX_TOKEN_LIFETIME_SECONDS;
      warnOnce(`the token endpoint sent an implausible "expires_in": using ${MAX_TOKEN_LIFETIME_SECONDS} s`, {
        authUrl,
        expiresIn,
      });
    } else {
      lifetimeSeconds = expiresIn;
    }
    const token: StoredToken = {
      accessToken,
      expiresAt: requestedAt + lifetimeSeconds * 1000,
      obtainedAt: requestedAt,
    };
    if (typeof scope === 'string') token.scope = scope;
    return token;
  };
}
