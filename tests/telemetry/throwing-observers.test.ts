import axios from 'axios';
import { metrics, trace } from '@opentelemetry/api';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider } from '@opentelemetry/sdk-trace-base';
import type { LimitFunction } from 'p-limit';
import {
  createServiceTitanClient,
  isServiceTitanAuthError,
  type ServiceTitanClientOptions,
  type ServiceTitanLogger,
} from '../../src';
import { recordingLogger } from '../helpers/logger';
import { authOptions, customersPath, useSandbox } from '../helpers/sandbox';
import {
  registerContextManager,
  removeOpenTelemetry,
  ThrowingContextManager,
  ThrowingMeterProvider,
  ThrowingTracerProvider,
  type ContextFault,
  type InstrumentFault,
  type TracerFault,
} from './faulty-otel';

// DESIGN guarantee 15: what observes never decides. A meter, tracer, context manager or logger
// that throws or never settles changes no request: every one succeeds on exactly the token and
// API calls it would make without it (counted at the sandbox), the rate limit keeps counting, and
// the client is whole once the faulty observer is gone. The warning is once per kind per process
// (src/observers.ts): the first test of this file that meets a kind's failure sees exactly one.

/** The ServiceTitanAuthWarnings the library emits while a test runs, by code. */
function useWarnings(): () => string[] {
  let spy: jest.SpiedFunction<typeof process.emitWarning> | undefined;
  beforeEach(() => {
    spy = jest.spyOn(process, 'emitWarning');
  });
  afterEach(() => {
    spy?.mockRestore();
  });
  return () =>
    (spy?.mock.calls ?? [])
      .map(([, options]) => options as { type?: string; code?: string } | undefined)
      .filter((options) => options?.type === 'ServiceTitanAuthWarning')
      .map((options) => options?.code ?? '');
}

const N = 20;

describe('observers that throw or hang never decide (guarantee 15)', () => {
  const sandbox = useSandbox();
  const warnings = useWarnings();
  beforeEach(() => {
    removeOpenTelemetry();
    registerContextManager();
  });
  afterEach(removeOpenTelemetry);

  const client = (overrides: Partial<ServiceTitanClientOptions> = {}) =>
    createServiceTitanClient({
      ...authOptions(sandbox()),
      tenantId: sandbox().tenantId,
      // A request the defect holds forever fails the test in seconds instead of hanging it.
      axios: { timeout: 10_000 },
      ...overrides,
    });

  /** N concurrent requests, then one after a revocation (renewal and replay): all must be 200. */
  async function burstAndReplay(api: ReturnType<typeof client>): Promise<void> {
    const statuses = await Promise.all(
      Array.from({ length: N }, () => api.get(customersPath(sandbox())).then((r) => r.status)),
    );
    expect(statuses).toEqual(Array.from({ length: N }, () => 200));
    expect(sandbox().token.count).toBe(1);
    expect(sandbox().api.count).toBe(N);
    sandbox().revokeAllTokens();
    expect((await api.get(customersPath(sandbox()))).status).toBe(200);
    expect(sandbox().token.count).toBe(2); // one renewal
    expect(sandbox().api.count).toBe(N + 2); // the 401 and its one replay
  }

  /** Once the faulty observer is gone, the same client still sends every request. */
  async function stillWhole(api: ReturnType<typeof client>): Promise<void> {
    const before = sandbox().api.count;
    const statuses = await Promise.all(
      Array.from({ length: 5 }, () => api.get(customersPath(sandbox())).then((r) => r.status)),
    );
    expect(statuses).toEqual([200, 200, 200, 200, 200]);
    expect(sandbox().api.count).toBe(before + 5);
  }

  /**
   * One warning per kind per process: the test that meets a kind's first failure in this file
   * (this file's modules are its own) sees exactly one warning, every later test none.
   */
  const warnedKinds = new Set<string>();
  function oneWarningPerProcess(code: string): void {
    expect(warnings()).toEqual(warnedKinds.has(code) ? [] : [code]);
    warnedKinds.add(code);
  }

  // First in the file, before any faulty observer has used up a kind's one warning: a healthy
  // SDK and logger watching failures of the library's own work must cost no warning at all.
  describe('healthy observers', () => {
    test('a failed token fetch, a retried one and a renewal with a working SDK and logger: no warning', async () => {
      metrics.setGlobalMeterProvider(new MeterProvider());
      trace.setGlobalTracerProvider(new BasicTracerProvider());
      const logger = recordingLogger().logger;
      sandbox().token.enqueue({ status: 400, body: { error: 'invalid_client' } });
      const failed: unknown = await client({ logger, tokenRequest: { failureCooldownMs: 0 } })
        .get(customersPath(sandbox()))
        .catch((e: unknown) => e);
      expect(isServiceTitanAuthError(failed) && failed.code).toBe('invalid_client');
      sandbox().token.enqueue({ status: 503 });
      const api = client({ logger });
      expect((await api.get(customersPath(sandbox()))).status).toBe(200);
      sandbox().revokeAllTokens();
      expect((await api.get(customersPath(sandbox()))).status).toBe(200);
      expect(sandbox().token.count).toBe(4); // the 400; the 503 and its retry; the renewal
      expect(warnings()).toEqual([]);
    });
  });

  describe('a MeterProvider whose instruments throw', () => {
    test.each<InstrumentFault>(['add', 'record', 'add and record'])(
      'on %s: every request succeeds on one token, and once the provider is removed 5 more go',
      async (fault) => {
        metrics.setGlobalMeterProvider(new ThrowingMeterProvider(fault));
        const api = client();
        await burstAndReplay(api);
        metrics.disable();
        await stillWhole(api);
        oneWarningPerProcess('ST_AUTH_OBSERVER_TELEMETRY');
      },
    );

    test('with requestsPerSecond: 2 a meter that throws on record leaks no place: all 6 requests go, 2 per second, and 5 more after it is removed', async () => {
      // 6 s: room for the 6th request's place (≈ 2 s at 2 per second) under load; a leaked place
      // is held forever, so a wedged request fails here instead of hanging.
      const api = client({ rateLimit: { requestsPerSecond: 2 }, axios: { timeout: 6_000 } });
      await api.auth.getToken(); // the token first, so only the limiter's telemetry is in play
      metrics.setGlobalMeterProvider(new ThrowingMeterProvider('record'));
      const sent = async (count: number) => {
        const outcomes = await Promise.allSettled(
          Array.from({ length: count }, () => api.get(customersPath(sandbox()))),
        );
        return outcomes.filter((o) => o.status === 'fulfilled' && o.value.status === 200).length;
      };
      const startedAt = performance.now();
      expect(await sent(6)).toBe(6);
      // The limit still holds: the 5th and 6th places open two windows (2 × 1.04 s) after the first.
      expect(performance.now() - startedAt).toBeGreaterThanOrEqual(2_000);
      expect(sandbox().api.count).toBe(6);
      metrics.disable();
      expect(await sent(5)).toBe(5);
      expect(sandbox().api.count).toBe(11);
      oneWarningPerProcess('ST_AUTH_OBSERVER_TELEMETRY');
    }, 30_000);
  });

  describe('a TracerProvider or context manager that throws', () => {
    test.each<TracerFault>(['startSpan', 'span methods'])(
      'a tracer whose %s throw(s): every request succeeds, the token request runs exactly once',
      async (fault) => {
        trace.setGlobalTracerProvider(new ThrowingTracerProvider(fault));
        const api = client();
        await burstAndReplay(api);
        trace.disable();
        await stillWhole(api);
        oneWarningPerProcess('ST_AUTH_OBSERVER_TELEMETRY');
      },
    );

    test.each<ContextFault>(['with throws before running', 'with throws after running'])(
      'a context manager whose %s: the token request runs exactly once, never twice',
      async (fault) => {
        trace.setGlobalTracerProvider(new ThrowingTracerProvider('span methods'));
        registerContextManager(new ThrowingContextManager(fault));
        const api = client();
        await burstAndReplay(api);
        oneWarningPerProcess('ST_AUTH_OBSERVER_TELEMETRY');
      },
    );

    test('a failed token fetch still fails with its own typed error, retries included, not the tracer’s', async () => {
      trace.setGlobalTracerProvider(new ThrowingTracerProvider('span methods'));
      sandbox().token.enqueue({ status: 503 }, { status: 400, body: { error: 'invalid_client' } });
      const error: unknown = await client()
        .get(customersPath(sandbox()))
        .catch((e: unknown) => e);
      expect(isServiceTitanAuthError(error) && error.code).toBe('invalid_client');
      expect(sandbox().token.count).toBe(2); // the 503, one retry (its span event threw), the 400
      expect(sandbox().api.count).toBe(0);
      oneWarningPerProcess('ST_AUTH_OBSERVER_TELEMETRY');
    });
  });

  describe('a logger that throws or never settles', () => {
    const throwing: ServiceTitanLogger = {
      debug: () => {
        throw new Error('debug failed');
      },
      info: () => {
        throw new Error('info failed');
      },
      warn: () => {
        throw new Error('warn failed');
      },
      error: () => {
        throw new Error('error failed');
      },
    };
    const never = () => new Promise<never>(() => undefined);
    const hanging = { debug: never, info: never, warn: never, error: never } as unknown as ServiceTitanLogger;

    test('a logger whose every method throws: every request succeeds on one token, renewal and replay included', async () => {
      await burstAndReplay(client({ logger: throwing }));
      oneWarningPerProcess('ST_AUTH_OBSERVER_LOGGER');
    });

    test('a logger whose every method throws: a failed token fetch fails with its typed error, not the logger’s', async () => {
      sandbox().token.enqueue({ status: 400, body: { error: 'invalid_client' } });
      const error: unknown = await client({ logger: throwing })
        .get(customersPath(sandbox()))
        .catch((e: unknown) => e);
      expect(isServiceTitanAuthError(error) && error.code).toBe('invalid_client');
      expect(sandbox().token.count).toBe(1);
      oneWarningPerProcess('ST_AUTH_OBSERVER_LOGGER');
    });

    test('a logger whose methods return promises that never settle holds no request up', async () => {
      await burstAndReplay(client({ logger: hanging }));
      expect(warnings()).toHaveLength(0); // never settling is not a failure
    });
  });

  describe('a foreign error while waiting for the token is not a cancel', () => {
    test('a tokenRequest.limiter that throws a TypeError: the request fails with that TypeError, not CanceledError', async () => {
      const bug = new TypeError('tokenRequest.limiter is broken');
      const limiter = (() => Promise.reject(bug)) as unknown as LimitFunction;
      const error: unknown = await client({ tokenRequest: { limiter } })
        .get(customersPath(sandbox()))
        .catch((e: unknown) => e);
      expect(axios.isCancel(error)).toBe(false);
      expect(error).toBe(bug);
      expect(sandbox().api.count).toBe(0);
    });

    test('a real abort while the token is held is still a CanceledError, and the fetch goes on', async () => {
      const api = client();
      const hold = sandbox().token.hold();
      const controller = new AbortController();
      const request = api.get(customersPath(sandbox()), { signal: controller.signal }).catch((e: unknown) => e);
      await hold.untilWaiting(1);
      controller.abort();
      expect(axios.isCancel(await request)).toBe(true);
      hold.release();
      expect((await api.get(customersPath(sandbox()))).status).toBe(200);
      expect(sandbox().token.count).toBe(1);
    });
  });
});
