import type { IncomingMessage } from 'node:http';
import { mediaType, sendJson, type RequestContext } from './http';
import type { TokenAuthority } from './jwt';
import { problem } from './problem';
import type { SandboxCredentials, SandboxRequestRecord, TokenErrorStyle } from './types';

/** The path of ServiceTitan's token endpoint. */
export const TOKEN_PATH = '/connect/token';

/** What the token endpoint needs to know. */
export interface TokenEndpointSettings {
  authority: TokenAuthority;
  clients: readonly SandboxCredentials[];
  scope: string;
  lifetimeSeconds: number;
  errorStyle: TokenErrorStyle;
}

const ERROR_TITLES: Record<string, string> = {
  invalid_request: 'The token request is malformed.',
  invalid_client: 'Client authentication failed.',
  unsupported_grant_type: 'The grant type is not supported.',
  server_error: 'The authorization server encountered an error.',
  slow_down: 'Too many token requests.',
  temporarily_unavailable: 'The authorization server is temporarily unavailable.',
};

/** The OAuth error code a scripted fault's status stands for. */
function oauthErrorFor(status: number): string {
  if (status === 400) return 'invalid_request';
  if (status === 401) return 'invalid_client';
  if (status === 429) return 'slow_down';
  if (status === 503) return 'temporarily_unavailable';
  return 'server_error';
}

/** The token endpoint's error body in the configured style. */
export function tokenErrorBody(style: TokenErrorStyle, status: number, error: string): unknown {
  if (style === 'problem') return problem(status, ERROR_TITLES[error] ?? error);
  return { error };
}

/** The default body of a scripted fault answering `status` on the token endpoint. */
export function tokenFaultBody(style: TokenErrorStyle, status: number): unknown {
  return tokenErrorBody(style, status, oauthErrorFor(status));
}

/** Records the client id and grant type of a form body, never the secret. */
export function describeTokenBody(body: Buffer, req: IncomingMessage, record: SandboxRequestRecord): void {
  if (mediaType(req.headers['content-type']) !== 'application/x-www-form-urlencoded') return;
  const form = new URLSearchParams(body.toString('utf8'));
  const clientId = form.get('client_id');
  const grantType = form.get('grant_type');
  if (clientId !== null) record.clientId = clientId;
  if (grantType !== null) record.grantType = grantType;
}

/** Keeps a client secret sent in the query string (a client bug) out of the log. */
export function describeTokenHead(_req: IncomingMessage, record: SandboxRequestRecord): void {
  if ('client_secret' in record.query) record.query['client_secret'] = '<redacted>';
}

/** Answers `POST /connect/token` like ServiceTitan's IdentityServer (client_secret_post only). */
export function createTokenHandler(settings: TokenEndpointSettings): (ctx: RequestContext) => void {
  const fail = (ctx: RequestContext, error: string): void =>
    sendJson(ctx, 400, tokenErrorBody(settings.errorStyle, 400, error), {
      'cache-control': 'no-store',
    });

  return (ctx) => {
    const { req } = ctx;
    if (ctx.url.pathname !== TOKEN_PATH) {
      sendJson(ctx, 404, problem(404, 'Not Found'));
      return;
    }
    if (req.method !== 'POST') {
      sendJson(ctx, 405, problem(405, 'Method Not Allowed'), { allow: 'POST' });
      return;
    }
    if (mediaType(req.headers['content-type']) !== 'application/x-www-form-urlencoded') {
      fail(ctx, 'invalid_request');
      return;
    }
    const form = new URLSearchParams(ctx.body.toString('utf8'));
    // RFC 6749 §2.3: one authentication method per request, and ServiceTitan documents only
    // client_secret_post, so an Authorization header (e.g. Basic) is refused.
    const client = settings.clients.find((c) => c.clientId === form.get('client_id'));
    if (req.headers.authorization !== undefined || !client || client.clientSecret !== form.get('client_secret')) {
      fail(ctx, 'invalid_client');
      return;
    }
    if (form.get('grant_type') !== 'client_credentials') {
      fail(ctx, 'unsupported_grant_type');
      return;
    }
    const token = settings.authority.mint(client.clientId, client.tenantId, settings.scope, settings.lifetimeSeconds);
    sendJson(
      ctx,
      200,
      {
        access_token: token,
        expires_in: settings.lifetimeSeconds,
        token_type: 'Bearer',
        scope: settings.scope,
      },
      { 'cache-control': 'no-store', pragma: 'no-cache' },
    );
  };
}
