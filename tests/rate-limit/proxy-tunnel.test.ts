import https from 'node:https';
import type { ClientRequest } from 'node:http';
import createHttpsProxyAgent from 'https-proxy-agent';
import { createServiceTitanClient, type ServiceTitanClientOptions } from '../../src';
import { SandboxProcess, NO_429S, rateLimitedWithLateness } from '../helpers/sandbox-process';
import { createTestCertificate, type TestCertificate } from '../helpers/tls';

// Guarantee 17 behind a proxy. axios sends an https request through a proxy (its `proxy` config,
// or HTTPS_PROXY) in a CONNECT tunnel of its own agent, one per request: the request is written
// only once the proxy has opened the tunnel and the origin's TLS handshake is done. Here the
// proxy holds the first window's CONNECTs CONNECT_DELAY_MS and lets the later ones through at
// once, as a busy proxy (or a busy client machine) does: counted from when they were handed
// over, the first window's requests reach the server CONNECT_DELAY_MS late, in the same second
// as the next window's (before src/rate-limit/axios-tunnel.ts: 429s, more than the budget in a
// second). Counted from their write, the next window waits for them.
//
// The sandbox, its TLS terminator and the proxy run in a process of their own (see
// tests/rate-limit/new-connections.test.ts for why, and for the budget of 10: the terminator
// does every handshake on one event loop).
const BUDGET = 10;
const CONNECT_DELAY_MS = 800;
/**
 * The window's margin, as in new-connections.test.ts: the harness's own jitter on a busy machine
 * (up to 150 ms between a request's last byte and its arrival). The held CONNECTs (800 ms) are
 * far beyond it: counting from the hand-over puts the first two windows' arrivals about
 * 1,000 + 150 - 800 = 350 ms apart.
 */
const HARNESS_JITTER_MS = 150;

/** Whether the sandbox's echo answered the request: its second hop (redirect-once) reached the server. */
const redirected = (result: PromiseSettledResult<{ data: unknown }>) =>
  result.status === 'fulfilled' ? (result.value.data as { query: Record<string, string> }).query['redirected'] : 0;

const PROXY_VARIABLES = ['HTTPS_PROXY', 'https_proxy', 'ALL_PROXY', 'all_proxy', 'NO_PROXY', 'no_proxy'] as const;

describe('an https request through a proxy counts from when it is written in its tunnel (G17)', () => {
  let certificate: TestCertificate;
  let sandbox: SandboxProcess;
  let proxyUrl: string;
  let apiUrl: string;
  const savedEnvironment: Partial<Record<(typeof PROXY_VARIABLES)[number], string | undefined>> = {};
  const agents: https.Agent[] = [];

  beforeAll(() => {
    certificate = createTestCertificate();
  });
  afterAll(() => certificate.remove());
  beforeEach(async () => {
    for (const name of PROXY_VARIABLES) {
      savedEnvironment[name] = process.env[name];
      delete process.env[name];
    }
    sandbox = await SandboxProcess.start({
      requestsPerSecond: BUDGET,
      tls: { key: certificate.key.toString(), cert: certificate.cert.toString() },
    });
    proxyUrl = await sandbox.proxy({ delayMs: CONNECT_DELAY_MS, connects: BUDGET });
    apiUrl = `https://localhost:${sandbox.tlsPort}`;
  }, 30_000); // starting a process with tsx takes seconds on a busy machine
  afterEach(async () => {
    for (const name of PROXY_VARIABLES) {
      const value = savedEnvironment[name];
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
    for (const agent of agents.splice(0)) agent.destroy();
    await sandbox.close();
  });

  /** A client of the sandbox's tenant with the API behind TLS, over `axios` options. */
  function client(axiosOptions: NonNullable<ServiceTitanClientOptions['axios']>) {
    return createServiceTitanClient({
      ...sandbox.options,
      environment: { authUrl: sandbox.options.environment.authUrl, apiUrl },
      rateLimit: { requestsPerSecond: BUDGET, windowMarginMs: HARNESS_JITTER_MS },
      retry: false,
      axios: axiosOptions,
    });
  }

  /** An https agent of the user's that trusts the test certificate (keep-alive, as an app's would be). */
  function trustingAgent(): https.Agent {
    const agent = new https.Agent({ keepAlive: true, ca: certificate.cert });
    agents.push(agent);
    return agent;
  }

  /**
   * 3 windows' worth of requests at once after the token (plain http, not through the proxy):
   * none refused, at most the budget in any rolling second at the server, each through a tunnel
   * of its own, the first window's CONNECTs held.
   */
  async function burstThroughTunnels(api: ReturnType<typeof client>, path = '/crm/v2/tenant/{tenant}/customers') {
    await api.auth.getToken();
    const started = performance.now();
    let firstAnswerMs = Infinity;
    const results = await Promise.allSettled(
      Array.from({ length: 3 * BUDGET }, () =>
        api.get(path).finally(() => (firstAnswerMs = Math.min(firstAnswerMs, performance.now() - started))),
      ),
    );
    const [stats, seen] = await Promise.all([sandbox.stats(), sandbox.proxySeen()]);
    expect(results.filter((result) => result.status === 'rejected')).toEqual([]);
    expect(rateLimitedWithLateness(stats)).toEqual(NO_429S);
    expect(stats.maxArrivals).toBeLessThanOrEqual(BUDGET);
    // The held CONNECTs were in play: nothing was answered before they were let through.
    expect(firstAnswerMs).toBeGreaterThanOrEqual(CONNECT_DELAY_MS);
    expect(seen.plainRequests).toEqual([]);
    return { results, stats, connects: seen.connects.filter((target) => target === new URL(apiUrl).host) };
  }

  test(`HTTPS_PROXY: ${3 * BUDGET} requests, the first ${BUDGET} tunnels ${CONNECT_DELAY_MS} ms late: none 429, ≤ ${BUDGET} arrivals in any rolling second`, async () => {
    process.env.HTTPS_PROXY = proxyUrl;
    const { stats, connects } = await burstThroughTunnels(client({ httpsAgent: trustingAgent() }));
    expect(stats.count).toBe(3 * BUDGET);
    expect(connects).toHaveLength(3 * BUDGET);
  }, 30_000);

  test(`axios \`proxy\` config: ${3 * BUDGET} requests, the first ${BUDGET} tunnels ${CONNECT_DELAY_MS} ms late: none 429, ≤ ${BUDGET} arrivals in any rolling second`, async () => {
    const { hostname, port } = new URL(proxyUrl);
    const { stats, connects } = await burstThroughTunnels(
      client({ proxy: { protocol: 'http', host: hostname, port: Number(port) }, httpsAgent: trustingAgent() }),
    );
    expect(stats.count).toBe(3 * BUDGET);
    expect(connects).toHaveLength(3 * BUDGET);
  }, 30_000);

  test('HTTPS_PROXY and same-origin redirects: every hop goes through a tunnel and counts from its write: none 429', async () => {
    process.env.HTTPS_PROXY = proxyUrl;
    const { results, stats, connects } = await burstThroughTunnels(
      client({ httpsAgent: trustingAgent() }),
      '/sandbox/v1/tenant/{tenant}/redirect-once',
    );
    // Each request was answered by its second hop (the echo): both hops reached the server.
    expect(
      results.map((result) =>
        result.status === 'fulfilled'
          ? (result.value.data as { query: Record<string, string> }).query['redirected']
          : 0,
      ),
    ).toEqual(Array(3 * BUDGET).fill('1'));
    expect(stats.count).toBe(2 * 3 * BUDGET);
    expect(connects).toHaveLength(2 * 3 * BUDGET);
  }, 30_000);

  test('a proxying agent of the user’s (https-proxy-agent as `httpsAgent`, `proxy: false`) is seen as any agent is, redirect hops included: none 429', async () => {
    const agent = createHttpsProxyAgent(proxyUrl);
    // https-proxy-agent 5 takes the origin's TLS options from each request's options, where axios
    // puts none: the test's certificate is trusted the way axios's own tunnel agent passes them.
    const tunnel = agent.callback.bind(agent);
    agent.callback = (request: ClientRequest, options) =>
      tunnel(request, { ...options, ca: certificate.cert } as typeof options);
    const { results, stats, connects } = await burstThroughTunnels(
      client({ httpsAgent: agent, proxy: false }),
      '/sandbox/v1/tenant/{tenant}/redirect-once',
    );
    expect(results.map(redirected)).toEqual(Array(3 * BUDGET).fill('1'));
    expect(stats.count).toBe(2 * 3 * BUDGET);
    expect(connects).toHaveLength(2 * 3 * BUDGET);
  }, 30_000);

  test('NO_PROXY as axios reads it: an excluded host is not tunnelled, its requests still counted', async () => {
    process.env.HTTPS_PROXY = proxyUrl;
    process.env.NO_PROXY = 'example.com, localhost';
    const api = client({ httpsAgent: trustingAgent() });
    await api.auth.getToken();
    const results = await Promise.allSettled(
      Array.from({ length: 2 * BUDGET }, () => api.get('/crm/v2/tenant/{tenant}/customers')),
    );
    const [stats, seen] = await Promise.all([sandbox.stats(), sandbox.proxySeen()]);
    expect(results.filter((result) => result.status === 'rejected')).toEqual([]);
    expect(seen.connects).toEqual([]);
    expect(rateLimitedWithLateness(stats)).toEqual(NO_429S);
    expect(stats.maxArrivals).toBeLessThanOrEqual(BUDGET);
  }, 30_000);
});
