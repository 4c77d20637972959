/**
 * The clients under test. Every variant gets its own keep-alive agent and an axios instance
 * whose `baseURL` is the sandbox API, and sends the same GET.
 *
 * - `axios`: bare axios with hard-coded `Authorization` and `ST-App-Key` headers (the physical limit).
 * - `axios-timeout-retries`: the same with what axios's own pieces give of the client's defaults:
 *   `timeout: 105_000` (axios's socket timeout) and axios-retry (3 retries of network errors,
 *   429 and 5xx, exponential delay). No rate limit: axios has none. What a hand-wired client
 *   pays for a timeout and retries, the baseline the client's features can be held against.
 * - `library`: `attachServiceTitanAuth` on an axios instance (this package, from ../src).
 * - `client`: `createServiceTitanClient` with `rateLimit: false` (tenant placeholder + API retries on).
 * - `client-defaults`: `createServiceTitanClient` with every default on (rate limiter, retries,
 *   deadline, acceptance recorder), the rate limit raised to 1,000,000/s so that it never waits:
 *   what the client's own path costs per request.
 * - `client-no-retries`: the same with `retry: false`.
 * - `client-no-deadline`: `client-defaults` with `timeout: 0` (no deadline, no tick signal).
 * - `client-features-off`: `createServiceTitanClient` with the limiter, the retries and the
 *   deadline off (`rateLimit: false`, `retry: false`, `timeout: 0`): what is left is attach's work,
 *   the tenant placeholder and the client's first interceptor. With `client-defaults` and its
 *   one-feature-off siblings, what each feature costs (bench/client-cost-split.ts).
 * - `peer`: axios-token-interceptor with its `tokenCache` (client-credentials fetch, cached for
 *   `expires_in - refreshBufferMs`) + axios-auth-refresh (on 401: reset the cache, fetch,
 *   replay), wired as their READMEs show.
 */
import { Agent } from 'node:http';
import axios, { type AxiosAdapter, type AxiosInstance } from 'axios';
import { createAuthRefresh } from 'axios-auth-refresh';
import axiosRetry, { isNetworkOrIdempotentRequestError } from 'axios-retry';
import tokenInterceptor from 'axios-token-interceptor';
import { attachServiceTitanAuth, createServiceTitanClient, type ServiceTitanLogger } from '../src';
import type { ServerInfo } from './protocol';

export type VariantName =
  | 'axios'
  | 'axios-interceptors'
  | 'axios-timeout-retries'
  | 'library'
  | 'client'
  | 'client-defaults'
  | 'client-no-retries'
  | 'client-no-deadline'
  | 'client-features-off'
  | 'peer';

export const VARIANT_LABELS: Record<VariantName, string> = {
  axios: 'bare axios (static headers)',
  'axios-interceptors': 'bare axios + a no-op request and response interceptor',
  'axios-timeout-retries': 'bare axios + timeout 105 s + axios-retry',
  library: 'attachServiceTitanAuth',
  client: 'createServiceTitanClient (rateLimit: false)',
  'client-defaults': 'createServiceTitanClient (defaults; rate limit raised out of the way)',
  'client-no-retries': 'createServiceTitanClient (defaults, retry: false; rate limit raised)',
  'client-no-deadline': 'createServiceTitanClient (defaults, timeout: 0; rate limit raised)',
  'client-features-off': 'createServiceTitanClient (rateLimit: false, retry: false, timeout: 0)',
  peer: 'axios-token-interceptor + axios-auth-refresh',
};

/** Called around every token request the variant makes (for the rotation workload). */
export interface TokenHooks {
  onTokenRequestStart?(): void;
  onTokenRequestEnd?(): void;
}

export interface VariantOptions {
  maxSockets: number;
  refreshBufferMs?: number;
  hooks?: TokenHooks;
  /** Replaces the HTTP adapter of the instance under test (token requests still use the network). */
  adapter?: AxiosAdapter;
}

export interface Subject {
  name: VariantName;
  instance: AxiosInstance;
  /** The request every workload sends. */
  url: string;
  agent: Agent;
  dispose(): void;
}

interface TokenResponse {
  access_token: string;
  expires_in: number;
}

/** A client-credentials token request, outside any instance (plain axios, no interceptors). */
async function fetchToken(server: ServerInfo): Promise<TokenResponse> {
  const body = new URLSearchParams({
    grant_type: 'client_credentials',
    client_id: server.clientId,
    client_secret: server.clientSecret,
  }).toString();
  const { data } = await axios.post<TokenResponse>(server.authUrl, body, {
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
  });
  return data;
}

/** A rate limit no benchmark reaches: the limiter runs on every request and never holds one back. */
const RAISED_RATE_LIMIT = 1_000_000;

function listUrl(tenant: string): string {
  return `/crm/v2/tenant/${tenant}/customers?pageSize=1`;
}

export async function createSubject(name: VariantName, server: ServerInfo, options: VariantOptions): Promise<Subject> {
  const agent = new Agent({ keepAlive: true, maxSockets: options.maxSockets });
  const base = {
    baseURL: server.apiUrl,
    httpAgent: agent,
    ...(options.adapter === undefined ? {} : { adapter: options.adapter }),
  };
  const credentials = {
    clientId: server.clientId,
    clientSecret: server.clientSecret,
    appKey: server.appKey,
    environment: { authUrl: server.authUrl, apiUrl: server.apiUrl },
    ...(options.refreshBufferMs === undefined ? {} : { refreshBufferMs: options.refreshBufferMs }),
    ...(options.hooks === undefined ? {} : { logger: tokenLogger(options.hooks) }),
  };
  const subject = (instance: AxiosInstance, url = listUrl(server.tenantId)): Subject => ({
    name,
    instance,
    url,
    agent,
    dispose: () => agent.destroy(),
  });

  /** axios with the token and app key as static headers, fetched once. */
  const bareAxios = async (): Promise<AxiosInstance> => {
    const { access_token } = await fetchToken(server);
    return axios.create({ ...base, headers: { Authorization: `Bearer ${access_token}`, 'ST-App-Key': server.appKey } });
  };

  switch (name) {
    case 'axios':
      return subject(await bareAxios());
    case 'axios-interceptors': {
      // What any plugin with a request interceptor that may wait (axios then runs its chain as
      // promises) and a response interceptor costs before doing anything: the floor under
      // attachServiceTitanAuth's own work.
      const instance = await bareAxios();
      instance.interceptors.request.use((config) => config);
      instance.interceptors.response.use((response) => response);
      return subject(instance);
    }
    case 'axios-timeout-retries': {
      const instance = await bareAxios();
      instance.defaults.timeout = 105_000;
      axiosRetry(instance, {
        retries: 3,
        retryDelay: axiosRetry.exponentialDelay,
        retryCondition: (error) => isNetworkOrIdempotentRequestError(error) || error.response?.status === 429,
      });
      return subject(instance);
    }
    case 'library': {
      const instance = axios.create(base);
      attachServiceTitanAuth(instance, credentials);
      return subject(instance);
    }
    case 'client': {
      const client = createServiceTitanClient({
        ...credentials,
        tenantId: server.tenantId,
        rateLimit: false,
        // The client wraps its adapter in its limiters at creation: pass it in, never swap it after.
        axios: { httpAgent: agent, ...(options.adapter === undefined ? {} : { adapter: options.adapter }) },
      });
      return subject(client, listUrl('{tenant}'));
    }
    case 'client-defaults':
    case 'client-no-retries':
    case 'client-no-deadline':
    case 'client-features-off': {
      const featuresOff = name === 'client-features-off';
      const client = createServiceTitanClient({
        ...credentials,
        tenantId: server.tenantId,
        // Raised out of the way, not off: the limiter's path runs for every request, it never waits.
        rateLimit: featuresOff ? false : { requestsPerSecond: RAISED_RATE_LIMIT },
        ...(name === 'client-no-retries' || featuresOff ? { retry: false as const } : {}),
        axios: {
          httpAgent: agent,
          ...(name === 'client-no-deadline' || featuresOff ? { timeout: 0 } : {}),
          ...(options.adapter === undefined ? {} : { adapter: options.adapter }),
        },
      });
      return subject(client, listUrl('{tenant}'));
    }
    case 'peer': {
      const instance = axios.create({ ...base, headers: { 'ST-App-Key': server.appKey } });
      const bufferMs = options.refreshBufferMs ?? 60_000;
      const cache = tokenInterceptor.tokenCache(
        async () => {
          options.hooks?.onTokenRequestStart?.();
          try {
            return await fetchToken(server);
          } finally {
            options.hooks?.onTokenRequestEnd?.();
          }
        },
        { getMaxAge: (token: TokenResponse) => Math.max(0, token.expires_in * 1000 - bufferMs) },
      );
      instance.interceptors.request.use(
        tokenInterceptor({
          getToken: cache,
          headerFormatter: (token: TokenResponse) => `Bearer ${token.access_token}`,
        }),
      );
      createAuthRefresh(
        instance,
        async (failedRequest: { response: { config: { headers: Record<string, string> } } }) => {
          cache.reset();
          const token = await cache();
          failedRequest.response.config.headers['Authorization'] = `Bearer ${token.access_token}`;
        },
      );
      return subject(instance);
    }
  }
}

/** The library reports its token fetches through its logger: turn those events into hooks. */
function tokenLogger(hooks: TokenHooks): ServiceTitanLogger {
  return {
    debug: (message) => {
      if (message === 'requesting a token') hooks.onTokenRequestStart?.();
    },
    info: (message) => {
      if (message === 'token obtained') hooks.onTokenRequestEnd?.();
    },
  };
}
