import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createApiHeadDescriber } from './api-auth';
import { createApiHandler } from './api-routes';
import { generateCustomers } from './customers';
import { generateCalls } from './data';
import { Endpoint } from './endpoint';
import { TokenAuthority } from './jwt';
import { Lifecycle } from './lifecycle';
import { defaultProblem } from './problem';
import { SlidingWindowLimiter } from './rate-limit';
import { resolveSandboxOptions } from './sandbox-options';
import { createTokenHandler, describeTokenBody, describeTokenHead, TOKEN_PATH, tokenFaultBody } from './token-endpoint';
import type { Sandbox, SandboxOptions } from './types';

const HOST = '127.0.0.1';
const CALL_COUNT = 30;

function listen(server: Server, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, HOST, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

/** Below Node's 60 s `headersTimeout`, far above any pause between a test's requests. */
const KEEP_ALIVE_TIMEOUT_MS = 30_000;

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) {
      resolve();
      return;
    }
    server.close(() => resolve());
    // Keep-alive, held and hanging connections would otherwise keep close() waiting.
    server.closeAllConnections();
  });
}

async function listenBoth(
  authServer: Server,
  apiServer: Server,
  authPort: number,
  apiPort: number,
): Promise<[number, number]> {
  const results = await Promise.allSettled([listen(authServer, authPort), listen(apiServer, apiPort)]);
  const [auth, api] = results;
  if (auth?.status === 'fulfilled' && api?.status === 'fulfilled') return [auth.value, api.value];
  await Promise.all([closeServer(authServer), closeServer(apiServer)]);
  throw results.find((r): r is PromiseRejectedResult => r.status === 'rejected')?.reason;
}

/**
 * Starts a local emulator of ServiceTitan's token endpoint and API on 127.0.0.1: two servers
 * on two origins, as in production. Close it with `close()`.
 *
 * @example
 * const sandbox = await startSandbox();
 * const client = createServiceTitanClient({ ...sandbox.clientOptions });
 * await client.get('/crm/v2/tenant/{tenant}/customers');
 * expect(sandbox.tokensIssued).toBe(1);
 * await sandbox.close();
 */
export async function startSandbox(options: SandboxOptions = {}): Promise<Sandbox> {
  const settings = resolveSandboxOptions(options);
  // Node's 5 s keepAliveTimeout races with clients that reuse an idle keep-alive socket (Node's
  // agent keeps them without a timeout): a request written as the server closes the socket gets
  // ECONNRESET (seen in the benchmark, 32 at once after a 7 s pause between rounds). Tests pause
  // for seconds; close() ends every connection anyway.
  const authServer = createServer({ keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS });
  const apiServer = createServer({ keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS });
  const [authPort, apiPort] = await listenBoth(authServer, apiServer, settings.authPort, settings.apiPort);
  const authOrigin = `http://${HOST}:${authPort}`;
  const authUrl = `${authOrigin}${TOKEN_PATH}`;
  const apiUrl = `http://${HOST}:${apiPort}`;

  const life = new Lifecycle();
  const authority = new TokenAuthority(authOrigin);
  const startedAt = Date.now();
  let tokensSeen = new Set<string>();
  const common = {
    life,
    startedAt,
    logLimit: settings.requestLogLimit,
    retryAfterStyle: settings.retryAfterStyle,
  };

  const token = new Endpoint({
    ...common,
    kind: 'token',
    describeHead: describeTokenHead,
    describeBody: describeTokenBody,
    errorBody: (status) => tokenFaultBody(settings.tokenErrorStyle, status),
    handler: createTokenHandler({
      authority,
      clients: settings.clients,
      scope: settings.scope,
      lifetimeSeconds: settings.tokenLifetimeMs / 1000,
      errorStyle: settings.tokenErrorStyle,
    }),
  });
  const api = new Endpoint({
    ...common,
    kind: 'api',
    describeHead: createApiHeadDescriber((jti) => tokensSeen.add(jti)),
    errorBody: defaultProblem,
    handler: createApiHandler({
      authority,
      appKey: settings.appKey,
      requireAppKey: settings.requireAppKey,
      unauthorizedBody: settings.unauthorizedBody,
      customers: generateCustomers(settings.customerCount),
      calls: generateCalls(CALL_COUNT),
      exportBatchSize: settings.exportBatchSize,
      reportRowCount: settings.reportRowCount,
      rateLimiter:
        settings.requestsPerSecond === false
          ? undefined
          : new SlidingWindowLimiter(settings.requestsPerSecond, 1000, () => performance.now()),
      reportLimiter:
        settings.reportsPerMinute === false
          ? undefined
          : new SlidingWindowLimiter(settings.reportsPerMinute, 60_000, () => Date.now()),
      retryAfterStyle: settings.retryAfterStyle,
      onRateLimited: () => api.noteRateLimited(),
    }),
  });
  authServer.on('request', token.listener);
  apiServer.on('request', api.listener);

  const [first] = settings.clients as [(typeof settings.clients)[number]];
  let closing: Promise<void> | undefined;

  return {
    authUrl,
    apiUrl,
    environment: { authUrl, apiUrl },
    clientId: first.clientId,
    clientSecret: first.clientSecret,
    tenantId: first.tenantId,
    clients: settings.clients,
    appKey: settings.appKey,
    clientOptions: Object.freeze({
      clientId: first.clientId,
      clientSecret: first.clientSecret,
      appKey: settings.appKey,
      environment: { authUrl, apiUrl },
      tenantId: first.tenantId,
    }),
    token,
    api,
    get tokensIssued() {
      return authority.issued;
    },
    get tokensSeen() {
      return [...tokensSeen];
    },
    revokeAllTokens: () => authority.revokeAll(),
    revokeToken: (tokenOrId) => authority.revoke(tokenOrId),
    resetCounters() {
      token.resetCounters();
      api.resetCounters();
      authority.issued = 0;
      tokensSeen = new Set();
    },
    close() {
      closing ??= (async () => {
        life.close();
        token.close();
        api.close();
        await Promise.all([closeServer(authServer), closeServer(apiServer)]);
        // Sockets are destroyed by now; their responses' 'close' events follow shortly.
        await Promise.all([token.idle(), api.idle()]);
      })();
      return closing;
    },
  };
}
