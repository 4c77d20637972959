import dns from 'node:dns';
import http from 'node:http';
import type { LookupFunction } from 'node:net';
import axios from 'axios';
import { createServiceTitanClient } from '../../src';
import { startOtherTraffic, type OtherTraffic } from '../helpers/other-traffic';
import { SandboxProcess, NO_429S, rateLimitedWithLateness } from '../helpers/sandbox-process';

// DESIGN guarantee 17: the limiter counts exactly the requests it sent, each from when it was
// written, each redirect hop as an arrival; other traffic in the same process never changes the
// count. The sandbox runs in a process of its own (its arrival times are not stalled by this
// process's work, so the tests hold on a busy machine) and limits like ServiceTitan: 60 per
// rolling second per (app key, tenant), 429 beyond. Other traffic sends no token: the sandbox's
// budget and its `maxArrivals` count only requests with one.
const BUDGET = 60;
/** Connection set-up of a distant API (DNS, TCP, TLS), as a slow DNS lookup on the client's agent. */
const SETUP_MS = 300;
/**
 * The window's margin in the tests that count arrivals. The guarantee holds while the one-way
 * delays of two requests differ by less than `windowMarginMs`; here the "network" is two
 * processes on a machine that may be busy, and their delays differed by more than the default
 * 40 ms at load 15 on 2 cores (with the fix in: 3 of 180 answered 429 with other traffic, 1 of
 * 180 hops). 150 ms covers that and is still half the set-up: a place counted from another
 * request's write, as before the fix, is early by up to the set-up and still overruns; an
 * uncounted hop doubles the arrivals whatever the margin.
 */
const HARNESS_JITTER_MS = 150;

const slowLookup: LookupFunction = (host, options, callback) => {
  setTimeout(() => dns.lookup(host, { ...options, family: 4 }, callback), SETUP_MS);
};
const ipv4Lookup: LookupFunction = (host, options, callback) => dns.lookup(host, { ...options, family: 4 }, callback);

let sandbox: SandboxProcess;
beforeEach(async () => {
  sandbox = await SandboxProcess.start({ requestsPerSecond: BUDGET });
}, 30_000); // starting a process with tsx takes seconds on a busy machine
afterEach(() => sandbox.close());

/** A fresh client (no connection yet) to the sandbox under the host name `localhost`. */
function clientFor(agent: http.Agent, windowMarginMs?: number) {
  const { environment } = sandbox.options;
  return createServiceTitanClient({
    ...sandbox.options,
    environment: { authUrl: environment.authUrl, apiUrl: environment.apiUrl.replace('127.0.0.1', 'localhost') },
    retry: false,
    ...(windowMarginMs === undefined ? {} : { rateLimit: { windowMarginMs } }),
    axios: { httpAgent: agent },
  });
}

describe('the rate limit counts exactly its own requests (guarantee 17)', () => {
  test(`other traffic to the same host while ${3 * BUDGET} requests start on new connections (${SETUP_MS} ms set-up): none 429, ≤ ${BUDGET} arrivals in any rolling second`, async () => {
    const agent = new http.Agent({ keepAlive: true, lookup: slowLookup });
    const client = clientFor(agent, HARNESS_JITTER_MS);
    const path = `/crm/v2/tenant/${sandbox.options.tenantId}/customers`;
    let traffic: OtherTraffic | undefined;
    try {
      await client.auth.getToken();
      traffic = startOtherTraffic(
        sandbox.options.environment.apiUrl.replace('127.0.0.1', 'localhost'),
        `/sandbox/v1/tenant/${sandbox.options.tenantId}/echo`,
      );
      const results = await Promise.allSettled(Array.from({ length: 3 * BUDGET }, () => client.get(path)));
      const otherSent = await traffic.stop();
      traffic = undefined;
      const stats = await sandbox.stats();
      expect(results.filter((result) => result.status === 'rejected')).toEqual([]);
      expect(stats.count).toBe(3 * BUDGET);
      expect(rateLimitedWithLateness(stats)).toEqual(NO_429S);
      expect(stats.maxArrivals).toBeLessThanOrEqual(BUDGET);
      // The other traffic ran all along (a test without it would prove nothing).
      expect(stats.otherTraffic).toBeGreaterThan(100);
      expect(otherSent).toBeGreaterThanOrEqual(stats.otherTraffic);
    } finally {
      await traffic?.stop();
      agent.destroy();
    }
  }, 30_000);

  test(`same-origin redirects: ${BUDGET + BUDGET / 2} requests each redirected once, every hop counted: none 429, ≤ ${BUDGET} arrivals in any rolling second`, async () => {
    const agent = new http.Agent({ keepAlive: true, lookup: ipv4Lookup });
    const client = clientFor(agent, HARNESS_JITTER_MS);
    const requests = BUDGET + BUDGET / 2;
    try {
      await client.auth.getToken();
      const results = await Promise.allSettled(
        Array.from({ length: requests }, (_, i) =>
          client.get<{ query: Record<string, string> }>(
            `/sandbox/v1/tenant/${sandbox.options.tenantId}/redirect-once?n=${i}`,
          ),
        ),
      );
      const stats = await sandbox.stats();
      expect(results.filter((result) => result.status === 'rejected')).toEqual([]);
      // Each request was answered by its second hop (the echo), so both hops reached the server.
      expect(
        results.map((result) => (result.status === 'fulfilled' ? result.value.data.query['redirected'] : undefined)),
      ).toEqual(Array(requests).fill('1'));
      expect(stats.count).toBe(2 * requests);
      expect(rateLimitedWithLateness(stats)).toEqual(NO_429S);
      expect(stats.maxArrivals).toBeLessThanOrEqual(BUDGET);
    } finally {
      agent.destroy();
    }
  }, 30_000);

  test('a redirect hop waiting for a place stops at the request’s timeout, is never sent, and frees its place', async () => {
    const client = createServiceTitanClient({ ...sandbox.options, retry: false, rateLimit: { requestsPerSecond: 1 } });
    await client.auth.getToken();
    const started = performance.now();
    const error = await client
      .get(`/sandbox/v1/tenant/${sandbox.options.tenantId}/redirect-once`, { timeout: 400 })
      .catch((e: unknown) => e);
    // The hop needed the second place of a 1-per-second window: it waited, then gave up.
    expect(axios.isAxiosError(error) && error.code).toBe('ECONNABORTED');
    expect(performance.now() - started).toBeLessThan(1000);
    expect((await sandbox.stats()).count).toBe(1);
    // Its place was freed, not taken: the next request goes once the first place expires.
    await client.get(`/sandbox/v1/tenant/${sandbox.options.tenantId}/echo`);
    expect((await sandbox.stats()).count).toBe(2);
    expect(performance.now() - started).toBeLessThan(2000);
  });

  // What the limiter cannot see (written.ts) counts from the hand-over; every setting still works.
  test.each<[string, Record<string, unknown>, number, number]>([
    ['maxRedirects: 0 (the 307 is the answer)', { maxRedirects: 0, validateStatus: () => true }, 307, 1],
    [
      'a transport of the caller’s (Node’s http: no redirects)',
      { transport: http, validateStatus: () => true },
      307,
      1,
    ],
    ['httpAgent: false', { httpAgent: false }, 200, 2],
    ['the fetch adapter (fetch follows the redirect itself)', { adapter: 'fetch' }, 200, 2],
  ])('%s: the request goes out and is answered', async (_name, config, status, arrivals) => {
    const client = createServiceTitanClient({ ...sandbox.options, retry: false });
    const response = await client.get(`/sandbox/v1/tenant/${sandbox.options.tenantId}/redirect-once`, config);
    expect(response.status).toBe(status);
    expect((await sandbox.stats()).count).toBe(arrivals);
  });
});
