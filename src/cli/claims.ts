/** What `check` shows from an access token's JWT claims. */
export interface TokenClaims {
  tenant?: string;
  clientId?: string;
  scopes?: string[];
  issuer?: string;
  /** `exp`, in ms since the epoch. */
  expiresAt?: number;
}

/**
 * Reads the payload of a JWT access token without verifying it (the CLI only displays it), or
 * returns undefined when the token is not a JWT (an opaque reference token is fine).
 */
export function readTokenClaims(token: string): TokenClaims | undefined {
  const payload = decodePayload(token);
  if (payload === undefined) return undefined;
  const claims: TokenClaims = {};
  const tenant = firstScalar(payload['tenant'] ?? payload['tenant_id'] ?? payload['tid']);
  if (tenant !== undefined) claims.tenant = tenant;
  const clientId = firstScalar(payload['client_id'] ?? payload['azp'] ?? payload['cid']);
  if (clientId !== undefined) claims.clientId = clientId;
  const scopes = parseScopes(payload['scope'] ?? payload['scp']);
  if (scopes !== undefined) claims.scopes = scopes;
  if (typeof payload['iss'] === 'string') claims.issuer = payload['iss'];
  // An `exp` past JavaScript's last date (±8.64e15 ms) cannot be formatted: treat it as unknown.
  const exp = payload['exp'];
  if (typeof exp === 'number' && Math.abs(exp * 1000) <= 8.64e15) claims.expiresAt = exp * 1000;
  return claims;
}

function decodePayload(token: string): Record<string, unknown> | undefined {
  const parts = token.split('.');
  if (parts.length !== 3 || parts[1] === undefined || parts[1] === '') return undefined;
  try {
    const payload: unknown = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'));
    return payload !== null && typeof payload === 'object' && !Array.isArray(payload)
      ? (payload as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

function firstScalar(value: unknown): string | undefined {
  if (Array.isArray(value)) return firstScalar(value[0]);
  if (typeof value === 'string' && value !== '') return value;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return undefined;
}

/** `scope` is a space-separated string in RFC 9068 tokens, an array in some IdentityServer ones. */
export function parseScopes(value: unknown): string[] | undefined {
  if (typeof value === 'string') return value.split(/\s+/).filter((s) => s !== '');
  if (Array.isArray(value)) return value.filter((s): s is string => typeof s === 'string' && s !== '');
  return undefined;
}
