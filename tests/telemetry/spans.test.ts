import { context, SpanStatusCode, trace } from '@opentelemetry/api';
import axios from 'axios';
import { inspect } from 'node:util';
import { attachServiceTitanAuth, createServiceTitanClient } from '../../src';
import { TOKEN_FETCH_SPAN, TOKEN_RETRY_EVENT } from '../../src/telemetry/token-request-tracer';
import { authOptions, customersPath, useSandbox } from '../helpers/sandbox';
import { useOpenTelemetry } from './otel-sdk';

describe('spans for token fetches', () => {
  const sandbox = useSandbox();
  const otel = useOpenTelemetry();

  test('a cold burst makes one span, parented to the request that started the fetch', async () => {
    const api = axios.create({ baseURL: sandbox().apiUrl });
    attachServiceTitanAuth(api, authOptions(sandbox()));
    const tracer = trace.getTracer('test');
    const first = tracer.startSpan('first caller');
    const later = tracer.startSpan('later caller');
    const requests = [
      context.with(trace.setSpan(context.active(), first), () => api.get(customersPath(sandbox()))),
      ...Array.from({ length: 9 }, () =>
        context.with(trace.setSpan(context.active(), later), () => api.get(customersPath(sandbox()))),
      ),
    ];
    await Promise.all(requests);
    first.end();
    later.end();
    const fetches = otel.spans().filter((s) => s.name === TOKEN_FETCH_SPAN);
    expect(fetches).toHaveLength(1);
    const [span] = fetches;
    expect(span!.parentSpanContext?.spanId).toBe(first.spanContext().spanId);
    expect(span!.spanContext().traceId).toBe(first.spanContext().traceId);
    expect(span!.status.code).toBe(SpanStatusCode.UNSET);
    expect(span!.attributes).toMatchObject({
      'servicetitan.token.reason': 'cold',
      'servicetitan.token.outcome': 'success',
      'servicetitan.environment': 'custom',
      'server.address': '127.0.0.1',
    });
    expect(span!.events).toEqual([]);
  });

  test('a fetch without an active span is a root span', async () => {
    const api = axios.create({ baseURL: sandbox().apiUrl });
    attachServiceTitanAuth(api, authOptions(sandbox()));
    await api.get(customersPath(sandbox()));
    const [span] = otel.spans().filter((s) => s.name === TOKEN_FETCH_SPAN);
    expect(span!.parentSpanContext).toBeUndefined();
  });

  test('retried attempts are events on the one span; the span ends with the outcome', async () => {
    const api = axios.create({ baseURL: sandbox().apiUrl });
    attachServiceTitanAuth(api, authOptions(sandbox()));
    sandbox().token.enqueue({ status: 503 }, { reset: true });
    await api.get(customersPath(sandbox()));
    const fetches = otel.spans().filter((s) => s.name === TOKEN_FETCH_SPAN);
    expect(sandbox().token.count).toBe(3);
    expect(fetches).toHaveLength(1);
    expect(fetches[0]!.events.map((e) => [e.name, e.attributes?.['error.type']])).toEqual([
      [TOKEN_RETRY_EVENT, '503'],
      [TOKEN_RETRY_EVENT, 'ECONNRESET'],
    ]);
    expect(fetches[0]!.events[0]!.attributes?.['http.response.status_code']).toBe(503);
    expect(fetches[0]!.attributes['servicetitan.token.outcome']).toBe('success');
  });

  test('a failed fetch records its error code and status, never the message', async () => {
    const api = axios.create({ baseURL: sandbox().apiUrl });
    attachServiceTitanAuth(api, authOptions(sandbox()));
    sandbox().token.enqueue({ status: 400, body: { error: 'invalid_client' } });
    await expect(api.get(customersPath(sandbox()))).rejects.toMatchObject({ code: 'invalid_client' });
    const [span] = otel.spans().filter((s) => s.name === TOKEN_FETCH_SPAN);
    expect(span!.status).toEqual({ code: SpanStatusCode.ERROR, message: 'invalid_client' });
    expect(span!.attributes).toMatchObject({
      'error.type': 'invalid_client',
      'http.response.status_code': 400,
      'servicetitan.token.outcome': 'invalid_client',
    });
  });

  test('a renewal after a 401 is parented to the request that got the 401', async () => {
    const api = axios.create({ baseURL: sandbox().apiUrl });
    attachServiceTitanAuth(api, authOptions(sandbox()));
    await api.get(customersPath(sandbox()));
    sandbox().revokeAllTokens();
    const parent = trace.getTracer('test').startSpan('rejected caller');
    await context.with(trace.setSpan(context.active(), parent), () => api.get(customersPath(sandbox())));
    parent.end();
    const renewal = otel.spans().find((s) => s.attributes['servicetitan.token.reason'] === 'after_401');
    expect(renewal?.parentSpanContext?.spanId).toBe(parent.spanContext().spanId);
  });
});

describe('no secret in any data point or span', () => {
  const sandbox = useSandbox();
  const otel = useOpenTelemetry();

  test('after every kind of event, no token, secret, app key or client id appears in metrics or spans', async () => {
    const client = createServiceTitanClient({
      ...authOptions(sandbox()),
      rateLimit: { requestsPerSecond: 1000, maxConcurrent: 2 },
    });
    const tokens: string[] = [];
    tokens.push(await client.auth.getToken());
    await Promise.all(Array.from({ length: 6 }, () => client.get(customersPath(sandbox()))));
    sandbox().revokeAllTokens();
    await client.get(customersPath(sandbox()));
    tokens.push(await client.auth.getToken());
    sandbox().api.enqueue({ status: 401, times: 3 });
    await client.get(customersPath(sandbox())).catch(() => undefined);
    await client.get(customersPath(sandbox())).catch(() => undefined);
    tokens.push(await client.auth.getToken());
    sandbox().token.enqueue({ status: 503 }, { status: 400, body: { error: 'invalid_client' } });
    await client.auth.getToken({ forceRefresh: true }).catch(() => undefined);

    const collected = await otel.collect();
    const spans = otel.spans();
    expect(collected.points.size).toBeGreaterThanOrEqual(6);
    expect(spans.length).toBeGreaterThanOrEqual(3);
    const everything = [
      ...[...collected.points.values()].flatMap((m) => m.points.map((p) => JSON.stringify(p))),
      ...spans.map((s) =>
        inspect({ name: s.name, attributes: s.attributes, events: s.events, status: s.status }, { depth: 10 }),
      ),
    ];
    const forbidden = [sandbox().clientSecret, sandbox().appKey, sandbox().clientId, ...new Set(tokens)];
    expect(new Set(tokens).size).toBeGreaterThanOrEqual(2);
    for (const text of everything) {
      for (const secret of forbidden) expect(text).not.toContain(secret);
    }
    // Every data point carries the environment and the client-id fingerprint.
    for (const metric of collected.points.values()) {
      for (const point of metric.points) {
        expect(point.attributes).toMatchObject({
          'servicetitan.environment': 'custom',
          'servicetitan.client_id.fingerprint': expect.stringMatching(/^[0-9a-f]{8}$/),
        });
      }
    }
  });
});
