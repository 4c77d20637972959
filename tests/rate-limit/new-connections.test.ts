import dns from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import type { LookupFunction } from 'node:net';
import { createServiceTitanClient } from '../../src';
import { SandboxProcess, NO_429S, rateLimitedWithLateness } from '../helpers/sandbox-process';
import { createTestCertificate, type TestCertificate } from '../helpers/tls';

// A request on a new connection to a distant API is written only after DNS, TCP and TLS
// (100-300 ms), while one let through a second later goes out at once on a warm connection. A
// place that counts from when its request was let through, not from when it was written, puts a
// cold start's first window and the next one in the same second at the server: before
// written.ts, both tests below failed (http: 4 of the 180 requests answered 429, 64 arrivals in
// a second).
//
// The sandbox (and the TLS terminator) run in a process of their own: in this one, a busy
// machine (both cores taken) stalled the server's event loop behind the client's work and put
// more than the window's 40 ms margin between a request's last byte and its arrival (3 429s on
// a machine at load 10), delay that is this harness's, not the client's.
const SETUP_MS = 250;
/**
 * The window's margin here. The guarantee holds while the one-way delays of two requests differ
 * by less than `windowMarginMs`; the "network" here is two processes on a machine that may be
 * busy, whose delays differed by more than the default 40 ms at load 12-15 on 2 cores (http: 2
 * of 180 answered 429 with written.ts in; https: see below). 150 ms covers that, and the set-up
 * (250 ms) is still well beyond it: counting from the hand-over fails both tests (checked).
 */
const HARNESS_JITTER_MS = 150;

/** 3 windows' worth of requests at once from a fresh client (no connection yet): none may be 429. */
async function coldStart(
  sandbox: SandboxProcess,
  budget: number,
  options: { apiUrl: string; agent: http.Agent; windowMarginMs?: number },
) {
  const client = createServiceTitanClient({
    ...sandbox.options,
    environment: { authUrl: sandbox.options.environment.authUrl, apiUrl: options.apiUrl },
    rateLimit: {
      requestsPerSecond: budget,
      ...(options.windowMarginMs === undefined ? {} : { windowMarginMs: options.windowMarginMs }),
    },
    retry: false,
    axios: { ...(options.agent instanceof https.Agent ? { httpsAgent: options.agent } : { httpAgent: options.agent }) },
  });
  await client.auth.getToken();
  const results = await Promise.allSettled(
    Array.from({ length: 3 * budget }, () => client.get(`/crm/v2/tenant/${sandbox.options.tenantId}/customers`)),
  );
  const stats = await sandbox.stats();
  expect(results.filter((result) => result.status === 'rejected')).toEqual([]);
  expect(stats.count).toBe(3 * budget);
  expect(rateLimitedWithLateness(stats)).toEqual(NO_429S);
  expect(stats.maxArrivals).toBeLessThanOrEqual(budget);
}

describe('a request on a new connection counts from when it is written, not from when it was let through', () => {
  describe('http, ServiceTitan’s 60 per second', () => {
    let sandbox: SandboxProcess;
    beforeEach(async () => {
      sandbox = await SandboxProcess.start({ requestsPerSecond: 60 });
    }, 30_000); // starting a process with tsx takes seconds on a busy machine
    afterEach(() => sandbox.close());

    test(`each new connection's DNS lookup takes ${SETUP_MS} ms: 180 requests, none 429`, async () => {
      const slowLookup: LookupFunction = (host, options, callback) => {
        setTimeout(() => dns.lookup(host, { ...options, family: 4 }, callback), SETUP_MS);
      };
      const agent = new http.Agent({ keepAlive: true, lookup: slowLookup });
      try {
        await coldStart(sandbox, 60, {
          apiUrl: sandbox.options.environment.apiUrl.replace('127.0.0.1', 'localhost'),
          agent,
          windowMarginMs: HARNESS_JITTER_MS,
        });
      } finally {
        agent.destroy();
      }
    }, 30_000);
  });

  // 10 per second here, not 60: the TLS terminator does the server side of
  // every handshake on one event loop, one after another, so a request written just after its
  // handshake waits there behind the handshakes still going on: 60 at once put up to ~60 ms
  // between a request's last byte and its arrival at the sandbox on a quiet machine (4-7 429s in
  // 3 of 3 runs), and 20 at once as much on a busy one (1-2 429s at load 15, margin 40 or 150).
  // That delay is this harness's, not the client's (ServiceTitan's edge does not handshake on one
  // core), and the guarantee is stated for it: delays that differ by less than `windowMarginMs`
  // never put more than the budget in a rolling second (HARNESS_JITTER_MS).
  describe('https, 10 per second', () => {
    let certificate: TestCertificate;
    let sandbox: SandboxProcess;
    beforeAll(() => {
      certificate = createTestCertificate();
    });
    afterAll(() => certificate.remove());
    beforeEach(async () => {
      sandbox = await SandboxProcess.start({
        requestsPerSecond: 10,
        tls: { key: certificate.key.toString(), cert: certificate.cert.toString(), handshakeDelayMs: SETUP_MS },
      });
    }, 30_000);
    afterEach(() => sandbox.close());

    test(`each TLS handshake takes ${SETUP_MS} ms: 30 requests, none 429`, async () => {
      const agent = new https.Agent({ keepAlive: true, ca: certificate.cert });
      try {
        await coldStart(sandbox, 10, {
          apiUrl: `https://localhost:${sandbox.tlsPort}`,
          agent,
          windowMarginMs: HARNESS_JITTER_MS,
        });
      } finally {
        agent.destroy();
      }
    }, 30_000);
  });
});
