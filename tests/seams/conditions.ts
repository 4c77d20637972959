import http from 'node:http';
import https from 'node:https';
import { metrics, trace, type MeterProvider, type TracerProvider } from '@opentelemetry/api';
import axios from 'axios';
import { Redis } from 'ioredis';
import pLimit from 'p-limit';
import { createServiceTitanClient, MemoryTokenStore, type ServiceTitanClientOptions } from '../../src';
import { RedisRateLimitStore, RedisTokenStore } from '../../src/redis';
import type { SandboxCredentials } from '../../src/testing';
import { freePort, startRedisServer } from '../helpers/redis-server';
import { authOptions } from '../helpers/sandbox';
import { registerOpenTelemetry } from '../telemetry/otel-sdk';
import type { Condition, ConditionInPlay } from './cell';

/**
 * The conditions of the seams matrix: what a real service has around the client. Each sets
 * itself up per cell, adds what it contributes to the scenario's clients, checks afterwards that
 * it really was in play, and tears down. A new feature that can be switched on: one entry here.
 */

/** Pause between two requests of a background loop: continuous, without eating a busy machine. */
const BACKGROUND_PAUSE_MS = 10;
/**
 * Tenants of the many-tenants condition, the scenario's own included: six times the token
 * limiter's concurrency. Not hundreds: with a shared store each tenant's client derives its
 * store key with scrypt (16 MiB, ~0.4 s each on two busy cores), once per auth URL and process.
 */
const TENANTS = 24;
/** Token requests in flight at once across all tenants (createTenantClients' default). */
const TENANT_TOKEN_CONCURRENCY = 4;

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Runs `send` again and again until stopped; counts what it sent and what failed at the network. */
function backgroundLoop(send: () => Promise<unknown>) {
  let running = true;
  const counts = { sent: 0, failed: [] as string[] };
  const done = (async () => {
    while (running) {
      await send().then(
        () => (counts.sent += 1),
        (error: unknown) => counts.failed.push(String((error as Error).message)),
      );
      await pause(BACKGROUND_PAUSE_MS);
    }
  })();
  return {
    counts,
    async stop() {
      running = false;
      await done;
    },
  };
}

/** Adds axios defaults to the scenario's client options. */
function withAxios(options: ServiceTitanClientOptions, defaults: ServiceTitanClientOptions['axios']) {
  return { ...options, axios: { ...options.axios, ...defaults } };
}

/** A keep-alive agent that counts the sockets it kept for reuse (proof that it was used). */
function keepAliveAgent<A extends http.Agent>(agent: A): { agent: A; freed: () => number } {
  let freed = 0;
  agent.on('free', () => (freed += 1));
  return { agent, freed: () => freed };
}

const none: Condition = {
  name: 'no condition (baseline)',
  setup: async () => ({ teardown: async () => undefined }),
};

const openTelemetrySdk: Condition = {
  name: 'an OpenTelemetry SDK registered',
  async setup() {
    const otel = registerOpenTelemetry();
    return {
      async verify() {
        expect(otel.spans().length).toBeGreaterThan(0);
        expect((await otel.collect()).sum('servicetitan.auth.token.requests')).toBeGreaterThan(0);
      },
      teardown: () => otel.unregister(),
    };
  },
};

const throwingOpenTelemetrySdk: Condition = {
  name: 'an OpenTelemetry SDK whose instruments and tracer throw',
  async setup() {
    let thrown = 0;
    const fail = (): never => {
      thrown += 1;
      throw new Error('telemetry SDK failure');
    };
    const instrument = { add: fail, record: fail, addCallback: fail, removeCallback: fail };
    const meter = {
      createCounter: () => instrument,
      createUpDownCounter: () => instrument,
      createHistogram: () => instrument,
      createGauge: () => instrument,
      createObservableCounter: () => instrument,
      createObservableUpDownCounter: () => instrument,
      createObservableGauge: () => instrument,
      addBatchObservableCallback: fail,
      removeBatchObservableCallback: fail,
    };
    const tracer = { startSpan: fail, startActiveSpan: fail };
    metrics.disable();
    trace.disable();
    metrics.setGlobalMeterProvider({ getMeter: () => meter } as unknown as MeterProvider);
    trace.setGlobalTracerProvider({ getTracer: () => tracer } as unknown as TracerProvider);
    return {
      verify: () => expect(thrown).toBeGreaterThan(0),
      async teardown() {
        metrics.disable();
        trace.disable();
      },
    };
  },
};

const keepAliveHttp: Condition = {
  name: 'a keep-alive http agent',
  async setup() {
    const { agent, freed } = keepAliveAgent(new http.Agent({ keepAlive: true }));
    return {
      options: (options) => withAxios(options, { httpAgent: agent }),
      verify: () => expect(freed()).toBeGreaterThan(0),
      async teardown() {
        agent.destroy();
      },
    };
  },
};

const keepAliveHttps: Condition = {
  name: 'a keep-alive https agent (TLS to the API)',
  async setup({ sandbox, certificate }) {
    const api = await sandbox.tlsFront(sandbox.apiUrl, certificate());
    const { agent, freed } = keepAliveAgent(new https.Agent({ keepAlive: true, ca: certificate().cert }));
    return {
      environment: { authUrl: sandbox.authUrl, apiUrl: api.url },
      options: (options) => withAxios(options, { httpsAgent: agent }),
      verify: () => expect(freed()).toBeGreaterThan(0),
      async teardown() {
        agent.destroy();
        await api.close();
      },
    };
  },
};

const otherTraffic: Condition = {
  name: 'other HTTP traffic to the same host (another axios instance, plain http.get, alongside and continuous)',
  async setup({ sandbox }) {
    const other = axios.create({ baseURL: sandbox.apiUrl, validateStatus: () => true });
    const plainGet = () =>
      new Promise<void>((resolve, reject) => {
        http
          .get(`${sandbox.apiUrl}/other/plain`, (res) => {
            res.resume();
            res.on('end', resolve);
            res.on('error', reject);
          })
          .on('error', reject);
      });
    const loops = [backgroundLoop(() => other.get('/other/axios')), backgroundLoop(plainGet)];
    // And a request started alongside each of the client's, as a service does when it calls
    // `Promise.all([client.get(…), other.get(…)])`: both go out in the same turn of the loop.
    const alongside: Array<Promise<void>> = [];
    const alongsideFailed: string[] = [];
    return {
      async createClient(options) {
        const client = createServiceTitanClient(options);
        client.interceptors.request.use(
          (config) => {
            alongside.push(
              other.get('/other/alongside').then(
                () => undefined,
                (error: unknown) => void alongsideFailed.push(String((error as Error).message)),
              ),
            );
            return config;
          },
          undefined,
          { synchronous: true },
        );
        return client;
      },
      async verify() {
        await Promise.all(alongside);
        expect(alongsideFailed).toEqual([]);
        expect(alongside.length).toBeGreaterThan(0);
        for (const { counts } of loops) {
          expect(counts.failed).toEqual([]);
          expect(counts.sent).toBeGreaterThan(0);
        }
      },
      async teardown() {
        await Promise.all(loops.map((loop) => loop.stop()));
        await Promise.all(alongside);
      },
    };
  },
};

const httpsProxy: Condition = {
  name: 'an HTTPS proxy (HTTPS_PROXY, CONNECT tunnels to TLS endpoints)',
  // axios sends https through a proxy with a tunnel agent of its own (axios 1.21: HttpsProxyAgent,
  // a new CONNECT and TLS session per request). Before the limiter saw that agent's requests
  // (src/rate-limit/axios-tunnel.ts) each counted from its hand-over, the CONNECT and handshakes
  // taken for network delay: on two busy cores, 429s in this cell's rate-limit count (2 of 45
  // cells at the default 40 ms margin; 3 of 11 runs at 250 ms, load 7-8).
  async setup({ sandbox, certificate }) {
    const [auth, api] = await Promise.all(
      [sandbox.authUrl, sandbox.apiUrl].map((url) => sandbox.tlsFront(url, certificate())),
    );
    const proxy = await sandbox.proxy();
    // As a service configured by its environment: axios reads the proxy variables per request,
    // and both the API and the token request trust the certificate through the global agent.
    const saved = {
      HTTPS_PROXY: process.env.HTTPS_PROXY,
      NO_PROXY: process.env.NO_PROXY,
      no_proxy: process.env.no_proxy,
    };
    const savedCa = https.globalAgent.options.ca;
    process.env.HTTPS_PROXY = proxy.url;
    delete process.env.NO_PROXY;
    delete process.env.no_proxy;
    https.globalAgent.options.ca = certificate().cert;
    const [authFront, apiFront] = [auth, api] as [NonNullable<typeof auth>, NonNullable<typeof api>];
    return {
      environment: { authUrl: authFront.url, apiUrl: apiFront.url },
      async verify() {
        const seen = await proxy.seen();
        expect(seen.plainRequests).toEqual([]);
        expect(seen.connects).toEqual(
          expect.arrayContaining([new URL(authFront.url).host, new URL(apiFront.url).host]),
        );
      },
      async teardown() {
        for (const [name, value] of Object.entries(saved)) {
          if (value === undefined) delete process.env[name];
          else process.env[name] = value;
        }
        https.globalAgent.options.ca = savedCa;
        await proxy.close();
        await Promise.all([authFront, apiFront].map((front) => front.close()));
      },
    };
  },
};

/** The Redis rate-limit store, counting its calls (proof that the budget went through Redis). */
class CountingRateLimitStore extends RedisRateLimitStore {
  takes = 0;
  // The client's calls: one for up to a few waiting requests (take() alone is for other callers).
  override takeMany(...args: Parameters<RedisRateLimitStore['takeMany']>): ReturnType<RedisRateLimitStore['takeMany']> {
    this.takes += 1;
    return super.takeMany(...args);
  }
}

const redisStores: Condition = {
  name: 'RedisTokenStore and RedisRateLimitStore on a real redis-server',
  needsRedis: true,
  async setup() {
    const server = await startRedisServer();
    const redis = new Redis(server.port, '127.0.0.1');
    const tokenStore = new RedisTokenStore(redis);
    const rateLimitStore = new CountingRateLimitStore(redis);
    return {
      options: (options) => ({
        ...options,
        store: tokenStore,
        ...(options.rateLimit === false ? {} : { rateLimit: { ...options.rateLimit, store: rateLimitStore } }),
      }),
      async verify() {
        expect(await redis.keys('st-auth:*')).not.toEqual([]);
        expect(rateLimitStore.takes).toBeGreaterThan(0);
      },
      async teardown() {
        await redis.quit();
        await server.stop();
      },
    };
  },
};

/** The sandbox's first client is the scenario's tenant; the others are the crowd. */
const tenantCredentials: SandboxCredentials[] = Array.from({ length: TENANTS }, (_, i) => ({
  clientId: `cid.tenant${i}`,
  clientSecret: `cs1.tenant-secret-${i}-${'x'.repeat(16)}`,
  tenantId: String(2000 + i),
}));

/**
 * The token endpoint's port, the same for every cell: the store key derivation is remembered per
 * auth URL, so the tenants' scrypt runs once per test file rather than once per cell.
 */
let tenantsAuthPort: number | undefined;

const manyTenants: Condition = {
  name: `many tenants (${TENANTS} clients, one token limiter and store, all busy)`,
  async sandbox() {
    tenantsAuthPort ??= await freePort();
    return { clients: tenantCredentials, authPort: tenantsAuthPort };
  },
  async setup({ sandbox }) {
    const limiter = pLimit(TENANT_TOKEN_CONCURRENCY);
    const store = new MemoryTokenStore();
    const crowd = tenantCredentials.slice(1).map((credentials) =>
      createServiceTitanClient({
        ...authOptions(sandbox.clientOptions),
        clientId: credentials.clientId,
        clientSecret: credentials.clientSecret,
        tenantId: credentials.tenantId,
        tokenRequest: { limiter },
        store,
      }),
    );
    const path = '/crm/v2/tenant/{tenant}/customers';
    // A cold start of every tenant at once, then a steady round of requests across them.
    const coldStart = Promise.allSettled(crowd.map((client) => client.get(path, { params: { pageSize: 1 } })));
    let next = 0;
    const loops = [0, 1].map(() =>
      backgroundLoop(() => (crowd[(next += 1) % crowd.length] as (typeof crowd)[number]).get(path)),
    );
    const inPlay: ConditionInPlay = {
      options: (options) => ({ ...options, tokenRequest: { ...options.tokenRequest, limiter }, store }),
      async verify() {
        const started = await coldStart;
        expect(started.filter((outcome) => outcome.status === 'rejected')).toEqual([]);
        for (const { counts } of loops) expect(counts.failed).toEqual([]);
        expect(new Set((await sandbox.tokenRequests()).map((record) => record.clientId)).size).toBe(TENANTS);
      },
      async teardown() {
        await Promise.all(loops.map((loop) => loop.stop()));
        await coldStart;
      },
    };
    return inPlay;
  },
};

/** Every condition of the matrix. A new feature that a service can switch on: one entry here. */
export const conditions: readonly Condition[] = [
  none,
  openTelemetrySdk,
  throwingOpenTelemetrySdk,
  keepAliveHttp,
  keepAliveHttps,
  otherTraffic,
  httpsProxy,
  redisStores,
  manyTenants,
];
