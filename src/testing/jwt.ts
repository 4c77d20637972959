import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/** Claims of a sandbox access token, as ServiceTitan's (`tenant`, `client_id`, `scope`, …). */
export interface AccessTokenClaims {
  iss: string;
  client_id: string;
  tenant: string;
  scope: string;
  iat: number;
  nbf: number;
  exp: number;
  /** `tok-N`, N counting from 1 per sandbox. */
  jti: string;
}

/** Why the API refuses a bearer token. */
export type TokenRejection = 'malformed' | 'bad_signature' | 'expired' | 'revoked';

export type TokenCheck =
  { ok: true; claims: AccessTokenClaims } | { ok: false; reason: TokenRejection; claims?: AccessTokenClaims };

const HEADER = base64url(JSON.stringify({ alg: 'HS256', typ: 'at+jwt', kid: 'sandbox' }));

function base64url(text: string | Buffer): string {
  return Buffer.from(text).toString('base64url');
}

function nowSeconds(): number {
  // Date.now(), not a monotonic clock, so tests' fake clocks drive expiry.
  return Math.floor(Date.now() / 1000);
}

function isClaims(value: unknown): value is AccessTokenClaims {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return (
    typeof v['jti'] === 'string' &&
    typeof v['exp'] === 'number' &&
    typeof v['tenant'] === 'string' &&
    typeof v['client_id'] === 'string'
  );
}

/** The claims of a JWT without checking its signature, or undefined if it does not parse. */
export function decodeToken(raw: string): AccessTokenClaims | undefined {
  const parts = raw.split('.');
  if (parts.length !== 3 || parts[1] === undefined) return undefined;
  try {
    const claims: unknown = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'));
    return isClaims(claims) ? claims : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Mints and checks the sandbox's HS256 access tokens, with a random key per sandbox (tokens
 * of one sandbox are refused by another), and keeps the revocation list.
 */
export class TokenAuthority {
  readonly #key = randomBytes(32);
  readonly #issuer: string;
  #sequence = 0;
  #revokedUpTo = 0;
  readonly #revoked = new Set<string>();
  /** Tokens minted since start or the last counter reset. */
  issued = 0;

  constructor(issuer: string) {
    this.#issuer = issuer;
  }

  /** A new signed token for `clientId` on `tenant`. */
  mint(clientId: string, tenant: string, scope: string, lifetimeSeconds: number): string {
    this.#sequence += 1;
    this.issued += 1;
    const iat = nowSeconds();
    const claims: AccessTokenClaims = {
      iss: this.#issuer,
      client_id: clientId,
      tenant,
      scope,
      iat,
      nbf: iat,
      exp: iat + lifetimeSeconds,
      jti: `tok-${this.#sequence}`,
    };
    const unsigned = `${HEADER}.${base64url(JSON.stringify(claims))}`;
    return `${unsigned}.${this.#sign(unsigned)}`;
  }

  /** Checks signature, expiry (`exp <= now` is expired) and revocation. */
  verify(raw: string): TokenCheck {
    const claims = decodeToken(raw);
    if (!claims) return { ok: false, reason: 'malformed' };
    const [header, payload, signature] = raw.split('.') as [string, string, string];
    const expected = Buffer.from(this.#sign(`${header}.${payload}`));
    const given = Buffer.from(signature);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      return { ok: false, reason: 'bad_signature', claims };
    }
    if (claims.exp <= nowSeconds()) return { ok: false, reason: 'expired', claims };
    if (this.#isRevoked(claims.jti)) return { ok: false, reason: 'revoked', claims };
    return { ok: true, claims };
  }

  /** Revokes every token minted so far; later ones stay valid. */
  revokeAll(): void {
    this.#revokedUpTo = this.#sequence;
  }

  /** Revokes one token, given its `jti` or the raw JWT. */
  revoke(tokenOrId: string): void {
    this.#revoked.add(decodeToken(tokenOrId)?.jti ?? tokenOrId);
  }

  #isRevoked(jti: string): boolean {
    if (this.#revoked.has(jti)) return true;
    const n = /^tok-(\d+)$/.exec(jti)?.[1];
    return n !== undefined && Number(n) <= this.#revokedUpTo;
  }

  #sign(unsigned: string): string {
    return createHmac('sha256', this.#key).update(unsigned).digest('base64url');
  }
}
