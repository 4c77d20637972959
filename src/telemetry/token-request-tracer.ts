import type { Context, Span } from '@opentelemetry/api';
import { isServiceTitanAuthError } from '../errors';
import {
  ATTRIBUTE,
  tokenServerAddress,
  type Attributes,
  type ClientIdentity,
  type TokenRequestOutcome,
  type TokenRequestReason,
} from './attributes';
import { observe } from '../observers';
import { INSTRUMENTATION_SCOPE } from './instruments';
import { currentInstruments } from './metrics';
import type { OpenTelemetryApi } from './optional-api';

/** The span of one token fetch (all its attempts). */
export const TOKEN_FETCH_SPAN = 'servicetitan.auth.token.fetch';
/** The span event of a failed attempt that is retried. */
export const TOKEN_RETRY_EVENT = 'servicetitan.auth.token.retry';

/**
 * One client's token requests as spans and metrics. A client has at most one token fetch in
 * flight (single flight), so the reason and parent context noted when it starts, and the span
 * of the request in progress, live here rather than travelling through the token code.
 */
export class TokenRequestTracer {
  readonly #api: OpenTelemetryApi;
  readonly #attributes: Attributes;
  #starting: { reason: TokenRequestReason; parent?: Context } | undefined;
  #span: Span | undefined;

  constructor(api: OpenTelemetryApi, identity: ClientIdentity, clientAttributes: Attributes) {
    this.#api = api;
    this.#attributes = { ...clientAttributes, [ATTRIBUTE.serverAddress]: tokenServerAddress(identity.authUrl) };
  }

  /**
   * The fetch is shared by every request that waits for it; its span is parented to the request
   * that started it, whose context is the active one here (later waiters only join).
   */
  starting(reason: TokenRequestReason): void {
    // The reason first: it is kept even if the context manager throws.
    this.#starting = { reason };
    this.#starting.parent = this.#api.context.active();
  }

  /**
   * Runs `request` exactly once, as the span's active context when the SDK allows. Every SDK call
   * goes through observe(): a tracer, span or context manager that throws costs a warning, never
   * the request, and never a second run of it (DESIGN guarantee 15).
   */
  async trace<T>(request: () => Promise<T>): Promise<T> {
    const { context, trace } = this.#api;
    const reason = this.#starting?.reason ?? 'cold';
    const parent = this.#starting?.parent ?? observe('telemetry', () => context.active());
    this.#starting = undefined;
    const span = observe('telemetry', () =>
      trace
        .getTracer(INSTRUMENTATION_SCOPE)
        .startSpan(TOKEN_FETCH_SPAN, { attributes: { ...this.#attributes, [ATTRIBUTE.tokenReason]: reason } }, parent),
    );
    this.#span = span;
    const startedAt = performance.now();
    let running: Promise<T> | undefined;
    const run = (): Promise<T> => {
      if (running === undefined) {
        try {
          running = request();
        } catch (error) {
          running = Promise.reject(error);
        }
      }
      return running;
    };
    // Active while the request runs, so an HTTP instrumentation's spans become its children.
    if (span !== undefined && parent !== undefined) {
      // Braces: what `with` returns is the request's own promise, and its rejection is the
      // request's failure, not the SDK's.
      observe('telemetry', () => {
        context.with(trace.setSpan(parent, span), run);
      });
    }
    let outcome: TokenRequestOutcome = 'success';
    try {
      return await run();
    } catch (error) {
      outcome = outcomeOf(error);
      if (span !== undefined) observe('telemetry', () => this.#recordFailure(span, error));
      throw error;
    } finally {
      this.#span = undefined;
      observe('telemetry', () => this.#finish(span, reason, outcome, startedAt));
    }
  }

  #recordFailure(span: Span, error: unknown): void {
    const code = isServiceTitanAuthError(error) ? error.code : 'unknown';
    // The code, never the message: messages name the token URL and the client id.
    span.setAttribute(ATTRIBUTE.errorType, code);
    if (isServiceTitanAuthError(error) && error.status !== undefined) {
      span.setAttribute(ATTRIBUTE.httpStatus, error.status);
    }
    span.setStatus({ code: this.#api.SpanStatusCode.ERROR, message: code });
  }

  #finish(span: Span | undefined, reason: TokenRequestReason, outcome: TokenRequestOutcome, startedAt: number): void {
    if (span !== undefined) {
      observe('telemetry', () => {
        span.setAttribute(ATTRIBUTE.tokenOutcome, outcome);
        span.end();
      });
    }
    const instruments = currentInstruments(this.#api);
    if (instruments !== undefined) {
      const attributes = { ...this.#attributes, [ATTRIBUTE.tokenReason]: reason, [ATTRIBUTE.tokenOutcome]: outcome };
      instruments.tokenRequests.add(1, attributes);
      instruments.tokenRequestDuration.record((performance.now() - startedAt) / 1000, attributes);
    }
  }

  retried(error: unknown): void {
    const { errorType, status } = attemptFailure(error);
    this.#span?.addEvent(TOKEN_RETRY_EVENT, {
      [ATTRIBUTE.errorType]: errorType,
      ...(status === undefined ? {} : { [ATTRIBUTE.httpStatus]: status }),
    });
    currentInstruments(this.#api)?.tokenRetries.add(1, { ...this.#attributes, [ATTRIBUTE.errorType]: errorType });
  }
}

/** `error.type` of a failed attempt, as the HTTP conventions say: the status, else the error code. */
function attemptFailure(error: unknown): { errorType: string; status?: number } {
  const status = (error as { response?: { status?: unknown } } | null)?.response?.status;
  if (typeof status === 'number') return { errorType: String(status), status };
  const code = (error as { code?: unknown } | null)?.code;
  return { errorType: typeof code === 'string' ? code : '_OTHER' };
}

function outcomeOf(error: unknown): TokenRequestOutcome {
  if (!isServiceTitanAuthError(error)) return 'failed';
  switch (error.code) {
    case 'invalid_client':
    case 'rate_limited':
    case 'invalid_token_response':
      return error.code;
    default:
      return 'failed';
  }
}
