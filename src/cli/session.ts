import {
  createServiceTitanClient,
  isServiceTitanAuthError,
  MemoryTokenStore,
  type ServiceTitanClient,
  type StoredToken,
  type TokenStore,
} from '../index';
import type { ConnectionConfig } from './config';
import { startDeadline, type Deadline } from './deadline';
import { CliError, ExitCode } from './exit-codes';

/** A token as the CLI reports it: the library's stored token (expiry measured from the request). */
export interface ObtainedToken {
  accessToken: string;
  /** ms since the epoch. */
  expiresAt: number;
  /** The `scope` field of the token response, if any. */
  scope?: string;
}

/** The library's client for one configuration, and the token it fetched. */
export interface Session {
  readonly client: ServiceTitanClient;
  /** The budget of the whole command (`--timeout`), started when the session opened. */
  readonly deadline: Deadline;
  /** Fetches a token through the library (`client.auth.getToken()`); failures become CliErrors. */
  fetchToken(): Promise<ObtainedToken>;
}

/** The longest one token request attempt may take, within the command's budget. */
const TOKEN_ATTEMPT_TIMEOUT_MS = 10_000;

/** A MemoryTokenStore that remembers what the library stored: expiry and scope of the token. */
class RecordingStore implements TokenStore {
  readonly #inner = new MemoryTokenStore();
  last: StoredToken | undefined;

  get(key: string): Promise<StoredToken | undefined> {
    return this.#inner.get(key);
  }

  set(key: string, token: StoredToken): Promise<void> {
    this.last = token;
    return this.#inner.set(key, token);
  }

  delete(key: string): Promise<void> {
    return this.#inner.delete(key);
  }
}

/**
 * Builds a client with `createServiceTitanClient`, exactly as an integration would, so `check`
 * exercises the library's real token request, caching and interceptors. Throws exit 2 when
 * the library refuses the configuration (e.g. an http: URL on a public host).
 */
export function openSession(config: ConnectionConfig): Session {
  const store = new RecordingStore();
  const deadline = startDeadline(config.timeoutMs);
  let client: ServiceTitanClient;
  try {
    client = createServiceTitanClient({
      clientId: config.clientId,
      clientSecret: config.clientSecret,
      environment: config.environment,
      appKey: config.appKey,
      ...(config.tenantId === undefined ? {} : { tenantId: config.tenantId }),
      store,
      // One attempt may not use the whole budget, so a hung attempt leaves time for a retry.
      tokenRequest: { timeoutMs: Math.min(config.timeoutMs, TOKEN_ATTEMPT_TIMEOUT_MS) },
      // The token was fetched a moment ago: a 401 on the probe is about the app key, not the token.
      renewOnStatus: [],
    });
  } catch (error) {
    deadline.clear();
    if (isServiceTitanAuthError(error)) throw new CliError(ExitCode.usage, error.code, error.message);
    throw error;
  }
  return {
    client,
    deadline,
    async fetchToken() {
      let accessToken: string;
      try {
        accessToken = await client.auth.getToken({ signal: deadline.signal });
      } catch (error) {
        if (deadline.expired) throw deadline.exceeded(`the token request to ${config.authUrl}`);
        throw tokenFailure(error, config);
      }
      const stored = store.last;
      const token: ObtainedToken = { accessToken, expiresAt: stored?.expiresAt ?? Number.NaN };
      if (stored?.scope !== undefined) token.scope = stored.scope;
      return token;
    },
  };
}

/** Maps the library's typed token errors to exit codes and messages a person can act on. */
export function tokenFailure(error: unknown, config: ConnectionConfig): CliError {
  if (!isServiceTitanAuthError(error)) {
    const message = error instanceof Error ? error.message : String(error);
    return new CliError(
      ExitCode.unreachable,
      'token_request_failed',
      `token request to ${config.authUrl} failed: ${message}`,
    );
  }
  switch (error.code) {
    case 'invalid_config':
      return new CliError(ExitCode.usage, error.code, error.message);
    case 'invalid_client':
      return new CliError(
        ExitCode.credentialsRejected,
        error.code,
        credentialsMessage(error.status, error.oauthError, config),
      );
    case 'rate_limited':
      return new CliError(
        ExitCode.unreachable,
        error.code,
        `${error.message}. Something else may be fetching tokens in a loop with this client id.`,
      );
    default:
      return new CliError(
        ExitCode.unreachable,
        error.code,
        `${error.message}${networkHint(error.message, error.status, config)}`,
      );
  }
}

function credentialsMessage(
  status: number | undefined,
  oauthError: string | undefined,
  config: ConnectionConfig,
): string {
  const answer = [status, oauthError].filter((part) => part !== undefined).join(' ');
  const head = `the token endpoint ${config.authUrl} rejected client id "${config.clientId}"${answer ? ` (${answer})` : ''}`;
  if (config.environmentName === 'custom') {
    return `${head}: check the client id/secret and that they belong to the environment at ${config.authUrl}.`;
  }
  const other = config.environmentName === 'integration' ? 'production' : 'integration';
  return (
    `${head}: check the client id/secret and that they belong to ${config.environmentName}. ` +
    `Client ids and secrets differ between environments: if these are ${other} credentials, use --environment ${other}.`
  );
}

function networkHint(message: string, status: number | undefined, config: ConnectionConfig): string {
  if (/ENOTFOUND|EAI_AGAIN/.test(message))
    return ` (DNS could not resolve the host: check ${config.environmentName === 'custom' ? '--auth-url' : 'your network / proxy'})`;
  if (/ECONNREFUSED/.test(message)) return ' (nothing is listening there: check the URL and port)';
  if (/timed out|ETIMEDOUT|ECONNABORTED/.test(message))
    return ' (no answer in time: check the network, or raise --timeout)';
  if (status === 404) return ' (no token endpoint at that URL: check --auth-url, it ends in /connect/token)';
  if (status !== undefined && status >= 500) return ' (the token endpoint is failing: try again later)';
  return '';
}
