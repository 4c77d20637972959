import { createHash } from 'node:crypto';

/**
 * Attribute names: OpenTelemetry's semantic conventions where one exists, the `servicetitan.`
 * namespace for the rest. No attribute ever holds a token, the client secret or the app key.
 */
export const ATTRIBUTE = {
  environment: 'servicetitan.environment',
  clientIdFingerprint: 'servicetitan.client_id.fingerprint',
  tokenReason: 'servicetitan.token.reason',
  tokenOutcome: 'servicetitan.token.outcome',
  store: 'servicetitan.store',
  serverAddress: 'server.address',
  errorType: 'error.type',
  httpStatus: 'http.response.status_code',
} as const;

/** Why a token request was made. */
export type TokenRequestReason = 'cold' | 'ahead_of_expiry' | 'after_401' | 'forced';

/** How a token request ended: `success`, or the error's code (`token_request_failed` is `failed`). */
export type TokenRequestOutcome = 'success' | 'invalid_client' | 'rate_limited' | 'failed' | 'invalid_token_response';

/** Which shared store fell back to per-process work. */
export type StoreKind = 'token_store' | 'rate_limit_store';

/** What identifies one client on every data point. */
export interface ClientIdentity {
  /** `'integration'`, `'production'`, or `'custom'` for explicit URLs (the sandbox, a proxy). */
  environment: string;
  clientId: string;
  /** The token endpoint's URL; its host becomes `server.address` of token requests. */
  authUrl: string;
}

export type Attributes = Readonly<Record<string, string | number>>;

/** The attributes every data point of a client carries. */
export function clientAttributes(identity: ClientIdentity): Attributes {
  return Object.freeze({
    [ATTRIBUTE.environment]: identity.environment,
    [ATTRIBUTE.clientIdFingerprint]: clientIdFingerprint(identity.clientId),
  });
}

/**
 * 8 hex characters of the SHA-256 of the client id: enough to tell a few clients apart on a
 * dashboard, and a client id is an identifier, not something to spread through telemetry backends.
 */
export function clientIdFingerprint(clientId: string): string {
  return createHash('sha256').update(clientId).digest('hex').slice(0, 8);
}

/** `server.address` of the token endpoint. */
export function tokenServerAddress(authUrl: string): string {
  return new URL(authUrl).hostname;
}
