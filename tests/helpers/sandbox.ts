import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ServiceTitanClientOptions } from '../../src';
import { startSandbox, type Sandbox, type SandboxClientOptions, type SandboxOptions } from '../../src/testing';

/**
 * Starts a fresh sandbox before each test of the enclosing describe and closes it after, and
 * returns a getter for it. Its rate limits (`rateLimit`, `reportRateLimit`) are off unless the
 * caller passes them: these tests are about auth and fire hundreds of concurrent requests.
 */
export function useSandbox(options: SandboxOptions = {}): () => Sandbox {
  let sandbox: Sandbox | undefined;
  beforeEach(async () => {
    sandbox = await startSandbox({ rateLimit: false, reportRateLimit: false, ...options });
  });
  afterEach(async () => {
    await sandbox?.close();
    sandbox = undefined;
  });
  return () => {
    if (sandbox === undefined) throw new Error('sandbox is only available inside a test');
    return sandbox;
  };
}

/**
 * Working options for a sandbox, with fast token retries so fault tests stay quick:
 * `tokenRequest` is merged with the overrides' (a test that sets the retry delay, under its new
 * or its deprecated name, gets that one).
 */
export function authOptions(
  sandbox: Omit<SandboxClientOptions, 'tenantId'>,
  overrides: Partial<ServiceTitanClientOptions> = {},
): ServiceTitanClientOptions {
  const fastRetries = overrides.tokenRetryDelayMs === undefined ? { retryDelayMs: 5 } : {};
  return {
    clientId: sandbox.clientId,
    clientSecret: sandbox.clientSecret,
    appKey: sandbox.appKey,
    environment: sandbox.environment,
    ...overrides,
    tokenRequest: { ...fastRetries, ...overrides.tokenRequest },
  };
}

/** The customers list path of the sandbox's tenant. */
export function customersPath(sandbox: Sandbox): string {
  return `/crm/v2/tenant/${sandbox.tenantId}/customers`;
}

/** A plain HTTP server on another origin that records the headers it receives. */
export interface ForeignServer {
  url: string;
  received: http.IncomingHttpHeaders[];
  close(): Promise<void>;
}

export async function startForeignServer(): Promise<ForeignServer> {
  const received: http.IncomingHttpHeaders[] = [];
  const server = http.createServer((req, res) => {
    received.push(req.headers);
    res.setHeader('Content-Type', 'application/json');
    res.end(JSON.stringify({ foreign: true }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * Fakes only `Date` (the clock every layer reads: library and sandbox), leaving timers and
 * sockets real, so expiry can be tested without sleeping. Undo with `jest.useRealTimers()`.
 */
export function fakeDateOnly(): void {
  jest.useFakeTimers({
    now: Date.now(),
    doNotFake: [
      'hrtime',
      'nextTick',
      'performance',
      'queueMicrotask',
      'requestAnimationFrame',
      'cancelAnimationFrame',
      'requestIdleCallback',
      'cancelIdleCallback',
      'setImmediate',
      'clearImmediate',
      'setInterval',
      'clearInterval',
      'setTimeout',
      'clearTimeout',
    ],
  });
}

/** {@link fakeDateOnly} around each test of the enclosing describe, with a way to move the clock. */
export function useFakeClock(): { advance(ms: number): void } {
  beforeEach(fakeDateOnly);
  afterEach(() => {
    jest.useRealTimers();
  });
  return { advance: (ms) => jest.setSystemTime(Date.now() + ms) };
}

/** Lets pending I/O callbacks and promise jobs run (a few event-loop turns). */
export async function flushIo(turns = 5): Promise<void> {
  for (let i = 0; i < turns; i += 1) await new Promise((resolve) => setImmediate(resolve));
}
