import type { IncomingMessage } from 'node:http';
import { send, sendJson, type RequestContext } from './http';
import { decodeToken, type AccessTokenClaims, type TokenAuthority, type TokenRejection } from './jwt';
import { problem } from './problem';
import type { SandboxRequestRecord } from './types';

/** How the API authenticates calls. */
export interface ApiAuthSettings {
  authority: TokenAuthority;
  appKey: string;
  requireAppKey: boolean;
  unauthorizedBody: 'problem' | 'empty';
}

const APP_KEY_QUERY = 'servicetitanapplicationkey';

const REJECTION_TITLES: Record<TokenRejection | 'missing', string> = {
  missing: 'Unauthorized: no bearer token.',
  malformed: 'Unauthorized: the bearer token is malformed.',
  bad_signature: 'Unauthorized: the bearer token signature is invalid.',
  expired: 'Unauthorized: the bearer token has expired.',
  revoked: 'Unauthorized: the bearer token was revoked.',
};

/** The raw bearer token of a request, if it has an `Authorization: Bearer …` header. */
function bearerToken(req: IncomingMessage): string | undefined {
  return /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '')?.[1];
}

/** The app key of a request: the `ST-App-Key` header, or the query parameter the spec allows. */
function appKeyOf(req: IncomingMessage, record: SandboxRequestRecord): string | undefined {
  const header = req.headers['st-app-key'];
  return (typeof header === 'string' ? header : undefined) ?? record.query[APP_KEY_QUERY];
}

/**
 * Records the token id and app key of an API request, reducing `authorization` to
 * `Bearer tok-N` (or `Bearer <malformed>`), and reports each token id to `onTokenSeen`.
 */
export function createApiHeadDescriber(
  onTokenSeen: (jti: string) => void,
): (req: IncomingMessage, record: SandboxRequestRecord) => void {
  return (req, record) => {
    const appKey = appKeyOf(req, record);
    if (appKey !== undefined) record.appKey = appKey;
    const raw = bearerToken(req);
    if (raw === undefined) return;
    const jti = decodeToken(raw)?.jti;
    record.headers['authorization'] = `Bearer ${jti ?? '<malformed>'}`;
    if (jti === undefined) return;
    record.tokenId = jti;
    onTokenSeen(jti);
  };
}

function unauthorized(ctx: RequestContext, settings: ApiAuthSettings, title: string, challenge: boolean): void {
  const headers = challenge ? { 'www-authenticate': 'Bearer error="invalid_token"' } : {};
  if (settings.unauthorizedBody === 'empty') send(ctx, 401, '', headers);
  else sendJson(ctx, 401, problem(401, title), headers);
}

/**
 * Checks the bearer token, the app key and the tenant; answers 401 / 403 itself and returns
 * the token's claims only when the call may proceed.
 */
export function authenticate(
  ctx: RequestContext,
  settings: ApiAuthSettings,
  pathTenant: string | undefined,
): AccessTokenClaims | undefined {
  const raw = bearerToken(ctx.req);
  const check = raw === undefined ? undefined : settings.authority.verify(raw);
  if (!check?.ok) {
    unauthorized(ctx, settings, REJECTION_TITLES[check?.reason ?? 'missing'], true);
    return undefined;
  }
  if (settings.requireAppKey && appKeyOf(ctx.req, ctx.record) !== settings.appKey) {
    // No WWW-Authenticate: the token is fine, renewing it would not help.
    unauthorized(ctx, settings, 'Unauthorized: invalid or missing application key (ST-App-Key).', false);
    return undefined;
  }
  if (pathTenant !== undefined && pathTenant !== check.claims.tenant) {
    sendJson(ctx, 403, problem(403, `Forbidden: the token is not valid for tenant ${pathTenant}.`));
    return undefined;
  }
  return check.claims;
}
