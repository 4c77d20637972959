import { execFile } from 'node:child_process';
import type { ClientRequest } from 'node:http';
import https from 'node:https';
import path from 'node:path';
import { promisify } from 'node:util';
import createHttpsProxyAgent from 'https-proxy-agent';
import { createServiceTitanClient } from '../src';
import { startSandbox, type Sandbox } from '../src/testing';
import { startRecordingProxy, type RecordingProxy } from './helpers/recording-proxy';
import { createTestCertificate, startTlsTerminator, type TestCertificate, type TlsTerminator } from './helpers/tls';

const run = promisify(execFile);
const root = path.resolve(__dirname, '..');

/**
 * Issue 10 item 7: behind `HTTPS_PROXY=http://…` (the usual corporate setup), axios before
 * 1.16.1 sent https requests to the proxy in clear text, token request (client secret) included.
 * The peer range requires a release that tunnels with CONNECT; this proves it end to end.
 */
describe('no plaintext through an HTTP proxy (HTTPS_PROXY)', () => {
  let certificate: TestCertificate;
  let sandbox: Sandbox;
  let terminators: TlsTerminator[];
  let proxy: RecordingProxy;

  beforeAll(async () => {
    certificate = createTestCertificate();
    sandbox = await startSandbox({ rateLimit: false, reportRateLimit: false });
    terminators = await Promise.all(
      [sandbox.authUrl, sandbox.apiUrl].map((url) => startTlsTerminator(Number(new URL(url).port), certificate)),
    );
    proxy = await startRecordingProxy();
  });
  afterAll(async () => {
    await Promise.all([proxy?.close(), sandbox?.close(), ...(terminators ?? []).map((t) => t.close())]);
    certificate?.remove();
  });

  test('the token request and an API call to https endpoints reach the proxy only as CONNECT tunnels', async () => {
    const [auth, api] = terminators as [TlsTerminator, TlsTerminator];
    const { NO_PROXY: _a, no_proxy: _b, HTTP_PROXY: _c, http_proxy: _d, https_proxy: _e, ...inherited } = process.env;
    // A failing child does not throw here: on failure the proxy's record says more than the child's error.
    const child = await run(process.execPath, ['--import', 'tsx', path.join('tests', 'fixtures', 'proxy-client.ts')], {
      cwd: root,
      timeout: 30_000,
      env: {
        ...inherited,
        HTTPS_PROXY: proxy.url,
        NODE_EXTRA_CA_CERTS: certificate.certPath,
        ST_AUTH_URL: `https://localhost:${auth.port}${new URL(sandbox.authUrl).pathname}`,
        ST_API_URL: `https://localhost:${api.port}`,
        ST_CLIENT_ID: sandbox.clientId,
        ST_CLIENT_SECRET: sandbox.clientSecret,
        ST_APP_KEY: sandbox.appKey,
        ST_TENANT_ID: sandbox.tenantId,
      },
    }).catch((error: unknown) => error as { stdout: string; stderr: string });

    // The proxy saw nothing in clear (axios before 1.16.1: `POST https://localhost:…/connect/token`)
    // and one CONNECT per origin.
    expect(proxy.plainRequests).toEqual([]);
    expect(proxy.connects.sort()).toEqual([`localhost:${auth.port}`, `localhost:${api.port}`].sort());
    // What it could read: each connection opens with a CONNECT line, then only TLS records.
    const received = proxy.received().map((bytes) => bytes.toString('latin1'));
    expect(received).toHaveLength(2);
    for (const bytes of received) {
      expect(bytes).toMatch(/^CONNECT localhost:\d+ HTTP\/1\.1\r\n/);
      expect(bytes.match(/^[A-Z]+ \S+ HTTP\/1\.[01]\r?$/gm)).toHaveLength(1);
      for (const secret of [sandbox.clientSecret, sandbox.appKey, 'grant_type', 'client_secret', 'ST-App-Key']) {
        expect(bytes).not.toContain(secret);
      }
    }

    // Both calls worked, and went through TLS to the sandbox.
    expect(child.stderr).toBe('');
    const result = JSON.parse(child.stdout) as { token: string; status: number };
    expect(result.status).toBe(200);
    expect(sandbox.token.count).toBe(1);
    expect(sandbox.api.count).toBe(1);
    expect(sandbox.api.requests[0]?.appKey).toBe(sandbox.appKey);

    for (const bytes of proxy.received()) expect(bytes.toString('latin1')).not.toContain(result.token);
    // Above the child's own bound (30 s): starting it with tsx took 11.5 s at load 20 on 2 cores.
  }, 40_000);

  test('a redirect hop through a proxying agent of the user’s goes into the tunnel in TLS, never in clear text', async () => {
    // The rate limit holds a hop until it has a place and then hands it to the agent
    // (src/rate-limit/written.ts). https-proxy-agent 5 (agent-base 6) tells an https request from
    // its caller in the stack unless told, and a hop handed on later has no https caller: it went
    // into the tunnel as plain http, token and app key readable by the proxy (the server hung up).
    const [, api] = terminators as [TlsTerminator, TlsTerminator];
    const agent = createHttpsProxyAgent(proxy.url);
    const tunnel = agent.callback.bind(agent);
    // https-proxy-agent 5 takes the origin's TLS options from each request's, where axios puts none.
    agent.callback = (request: ClientRequest, options) =>
      tunnel(request, { ...options, ca: certificate.cert } as typeof options);
    const client = createServiceTitanClient({
      ...sandbox.clientOptions,
      environment: { authUrl: sandbox.authUrl, apiUrl: `https://localhost:${api.port}` },
      retry: false,
      axios: { httpsAgent: agent, proxy: false },
    });
    const before = proxy.received().length;
    const response = await client.get<{ query: Record<string, string> }>(
      `/sandbox/v1/tenant/${sandbox.clientOptions.tenantId}/redirect-once`,
    );
    const token = await client.auth.getToken();

    expect(response.data.query['redirected']).toBe('1');
    const received = proxy.received().slice(before);
    // The first request's tunnel and the hop's, each a CONNECT line then TLS records only.
    expect(received).toHaveLength(2);
    for (const bytes of received.map((chunk) => chunk.toString('latin1'))) {
      expect(bytes).toMatch(/^CONNECT localhost:\d+ HTTP\/1\.1\r\n/);
      expect(bytes.match(/^[A-Z]+ \S+ HTTP\/1\.[01]\r?$/gm)).toHaveLength(1);
      for (const secret of [token, sandbox.appKey, 'ST-App-Key', 'redirected=1']) expect(bytes).not.toContain(secret);
    }
  });

  test('axios `proxy` with `auth`: the credentials go on each CONNECT only, as axios sends them', async () => {
    const [, api] = terminators as [TlsTerminator, TlsTerminator];
    const { hostname, port } = new URL(proxy.url);
    const client = createServiceTitanClient({
      ...sandbox.clientOptions,
      environment: { authUrl: sandbox.authUrl, apiUrl: `https://localhost:${api.port}` },
      retry: false,
      axios: {
        proxy: {
          protocol: 'http',
          host: hostname,
          port: Number(port),
          auth: { username: 'proxy-user', password: 'p4ss' },
        },
        httpsAgent: new https.Agent({ ca: certificate.cert }),
      },
    });
    const before = proxy.received().length;
    const responses = await Promise.all([1, 2].map(() => client.get('/crm/v2/tenant/{tenant}/customers')));

    expect(responses.map((response) => response.status)).toEqual([200, 200]);
    const received = proxy.received().slice(before);
    // One tunnel per request (axios's tunnel agent), each opened with the credentials.
    expect(received).toHaveLength(2);
    const credentials = `Proxy-Authorization: Basic ${Buffer.from('proxy-user:p4ss').toString('base64')}\r\n`;
    for (const bytes of received.map((chunk) => chunk.toString('latin1'))) {
      expect(bytes).toMatch(/^CONNECT localhost:\d+ HTTP\/1\.1\r\n/);
      expect(bytes.split(credentials)).toHaveLength(2);
      expect(bytes).not.toContain(sandbox.appKey);
    }
  });
});
