import http from 'node:http';
import type { AddressInfo } from 'node:net';
import axios from 'axios';
import { attachServiceTitanAuth, createServiceTitanClient } from '../src';
import { MAX_WARNED_ORIGINS } from '../src/withheld-credentials';
import { recordingLogger } from './helpers/logger';
import { authOptions, customersPath, useSandbox } from './helpers/sandbox';

/** A plain HTTP server on 127.0.0.2 (another host than the sandbox's) that answers 200 and counts requests. */
async function startCountingServer(): Promise<{ origin: string; paths: string[]; close(): Promise<void> }> {
  const paths: string[] = [];
  const server = http.createServer((request, response) => {
    paths.push(request.url ?? '');
    response.end('{}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.2', resolve));
  return {
    origin: `http://127.0.0.2:${(server.address() as AddressInfo).port}`,
    paths,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

describe('say why nothing was sent (issue 19 item 7)', () => {
  const sandbox = useSandbox();

  test('baseURL localhost while the environment says 127.0.0.1: one warn for 5 requests, naming the fix', async () => {
    const s = sandbox();
    const { logger, lines } = recordingLogger();
    const localhost = s.apiUrl.replace('127.0.0.1', 'localhost');
    const instance = axios.create({ baseURL: localhost, validateStatus: () => true });
    const auth = attachServiceTitanAuth(instance, { ...authOptions(s), logger });
    const token = await auth.getToken(); // one exists: it must still not be logged
    for (let i = 0; i < 5; i += 1) {
      expect((await instance.get(customersPath(s))).status).toBe(401); // the sandbox: no bearer token
    }
    expect(s.api.requests.map((r) => r.tokenId)).toEqual([undefined, undefined, undefined, undefined, undefined]);
    const warnings = lines.filter((line) => line.level === 'warn');
    expect(warnings).toEqual([
      {
        level: 'warn',
        message:
          `ServiceTitan token and app key not sent: ${localhost} is not the environment's API origin (${s.apiUrl}) ` +
          `nor in allowedOrigins: set the instance's baseURL to ${s.apiUrl}, or add ${localhost} to allowedOrigins ` +
          'if it is yours (logged once per origin)',
        details: { origin: localhost, apiOrigin: s.apiUrl, method: 'GET' },
      },
    ]);
    const logged = JSON.stringify(lines);
    for (const secret of [token, s.appKey, s.clientSecret]) expect(logged).not.toContain(secret);
  });

  test('nothing for unrelated hosts, nothing for skip, once per handle; another port and ServiceTitan hosts count', async () => {
    const s = sandbox();
    const other = await startCountingServer();
    try {
      const { logger, lines } = recordingLogger();
      const instance = axios.create({ baseURL: s.apiUrl, validateStatus: () => true });
      attachServiceTitanAuth(instance, { ...authOptions(s), logger });
      // Unrelated traffic on the same instance: another host, paths that are not ServiceTitan's.
      const unrelated = other.origin;
      for (const path of ['/health', '/api/v2/users/7', '/v2/tenants/7', '/crm/v2/tenant/abc/customers']) {
        await instance.get(`${unrelated}${path}`);
      }
      // ServiceTitan-shaped, but the caller said skip.
      await instance.get(`${unrelated}/crm/v2/tenant/7/customers`, { serviceTitanAuth: { skip: true } });
      expect(other.paths).toHaveLength(5);
      expect(lines).toEqual([]);

      // A ServiceTitan path on an unrelated host: once, however many requests.
      await instance.get(`${unrelated}/telecom/v3/tenant/7/calls`);
      await instance.get(`${unrelated}/crm/v2/tenant/{tenant}/customers`.replace('{tenant}', '%7Btenant%7D'));
      expect(lines.map((line) => line.details?.['origin'])).toEqual([unrelated]);
      // The API's host on another port (any path), and ServiceTitan's own API hosts, aborted
      // before they go anywhere (the interceptor runs, the adapter does not).
      const aborted = AbortSignal.abort();
      const otherPort = new URL(s.apiUrl);
      otherPort.port = String(Number(otherPort.port) + 1);
      for (const url of [
        `${otherPort.origin}/anything`,
        'https://api.servicetitan.io/x',
        'https://api-integration.servicetitan.io/y',
      ]) {
        await instance.get(url, { signal: aborted }).catch(() => undefined);
      }
      expect(lines.map((line) => line.details?.['origin'])).toEqual([
        unrelated,
        otherPort.origin,
        'https://api.servicetitan.io',
        'https://api-integration.servicetitan.io',
      ]);

      // Per handle: a second handle (a client) says it again, once.
      const second = recordingLogger();
      const client = createServiceTitanClient({
        ...authOptions(s),
        logger: second.logger,
        retry: false,
        rateLimit: false,
      });
      await client.get(`${unrelated}/crm/v2/tenant/7/customers`, { validateStatus: () => true });
      await client.get(`${unrelated}/crm/v2/tenant/7/customers`, { validateStatus: () => true });
      expect(second.lines.filter((line) => line.level === 'warn')).toHaveLength(1);
      expect(s.token.count).toBe(0);
    } finally {
      await other.close();
    }
  });

  test('a relative ServiceTitan path on an instance without baseURL says to set baseURL', async () => {
    const { logger, lines } = recordingLogger();
    const instance = axios.create();
    attachServiceTitanAuth(instance, { ...authOptions(sandbox()), logger });
    const aborted = AbortSignal.abort();
    await instance.get('/crm/v2/tenant/1/customers', { signal: aborted }).catch(() => undefined);
    await instance.get('/crm/v2/tenant/2/customers', { signal: aborted }).catch(() => undefined);
    expect(lines.map((line) => line.message)).toEqual([
      'ServiceTitan token and app key not sent: the URL is relative and the instance has no baseURL: ' +
        `set its baseURL to ${sandbox().apiUrl} (logged once per origin)`,
    ]);
  });

  test(`a scan of many hosts logs at most ${MAX_WARNED_ORIGINS} origins (a bounded set)`, async () => {
    const { logger, lines } = recordingLogger();
    const instance = axios.create();
    attachServiceTitanAuth(instance, { ...authOptions(sandbox()), logger });
    const aborted = AbortSignal.abort();
    for (let i = 0; i < MAX_WARNED_ORIGINS * 3; i += 1) {
      // Each twice: the second is never logged.
      for (let twice = 0; twice < 2; twice += 1) {
        await instance
          .get(`https://host-${i}.example/crm/v2/tenant/1/customers`, { signal: aborted })
          .catch(() => undefined);
      }
    }
    expect(lines).toHaveLength(MAX_WARNED_ORIGINS);
    expect(new Set(lines.map((line) => line.details?.['origin'])).size).toBe(MAX_WARNED_ORIGINS);
    expect(sandbox().api.count).toBe(0);
  });
});

describe('say why nothing was sent, without a logger', () => {
  const sandbox = useSandbox();

  test('one ServiceTitanAuthWarning per process, naming the origins and the fix, never a credential', async () => {
    const s = sandbox();
    const emitted = jest.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    try {
      const localhost = s.apiUrl.replace('127.0.0.1', 'localhost');
      for (let handle = 0; handle < 2; handle += 1) {
        const instance = axios.create({ baseURL: localhost, validateStatus: () => true });
        attachServiceTitanAuth(instance, authOptions(s));
        for (let i = 0; i < 3; i += 1) expect((await instance.get(customersPath(s))).status).toBe(401);
      }
      expect(s.api.requests.filter((r) => r.tokenId !== undefined)).toHaveLength(0);
      expect(emitted.mock.calls).toEqual([
        [
          `ServiceTitan token and app key not sent: ${localhost} is not the environment's API origin (${s.apiUrl}) ` +
            `nor in allowedOrigins: set the instance's baseURL to ${s.apiUrl}, or add ${localhost} to allowedOrigins ` +
            'if it is yours (printed once per process: pass a logger to hear of every origin)',
          { type: 'ServiceTitanAuthWarning', code: 'ST_AUTH_CREDENTIALS_WITHHELD' },
        ],
      ]);
      const printed = JSON.stringify(emitted.mock.calls);
      for (const secret of [s.appKey, s.clientSecret]) expect(printed).not.toContain(secret);
    } finally {
      emitted.mockRestore();
    }
  });
});
