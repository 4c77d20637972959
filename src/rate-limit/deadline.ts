import axios, {
  AxiosError,
  CanceledError,
  getAdapter,
  isAxiosError,
  type AxiosResponse,
  type InternalAxiosRequestConfig,
} from 'axios';
import { setMaxListeners } from 'node:events';
import { joinTick, leaveTick, type DeadlineTick } from './deadline-ticks';

/**
 * The default `timeout` of a `createServiceTitanClient` client: ServiceTitan's servers give up
 * on a request after 100 s (and answer an error), so a little more lets that answer arrive,
 * while a connection that went silent is still given up on.
 */
export const DEFAULT_CLIENT_TIMEOUT_MS = 105_000;

/**
 * Notes when the request was made, and its deadline: `timeout` as it is then, counted from
 * here, bounds the token, waits in the rate limit, retry delays and the replay. Fixed at the
 * start, so a retry plugin that shortens `timeout` by the time already spent (axios-retry without
 * `shouldResetTimeout`) does not count that time twice. `createServiceTitanClient` calls it in
 * the first request interceptor to run; the auth request interceptor calls it too (a no-op when
 * already marked), which is where an attached instance's requests start (see
 * `attachServiceTitanAuth`). Retries and the replay after a 401 carry the same config, so they
 * share the caller's deadline.
 */
export function markRequestStart(config: InternalAxiosRequestConfig): InternalAxiosRequestConfig {
  if (config.serviceTitanAuth?.startedAt !== undefined) return config;
  const startedAt = performance.now();
  const timeoutMs = config.timeout ?? 0;
  const perRequest = config.serviceTitanAuth;
  config.serviceTitanAuth =
    timeoutMs > 0 ? { ...perRequest, startedAt, deadlineAt: startedAt + timeoutMs } : { ...perRequest, startedAt };
  return config;
}

/** Milliseconds left of the request's `timeout` (Infinity without one, or before {@link markRequestStart}). */
export function timeLeftMs(config: InternalAxiosRequestConfig, now = performance.now()): number {
  const { startedAt, deadlineAt } = config.serviceTitanAuth ?? {};
  if (startedAt === undefined) return Number.POSITIVE_INFINITY;
  if (deadlineAt !== undefined) return deadlineAt - now;
  // No timeout when it was made; one set later (by an interceptor) counts from the start too.
  const timeoutMs = config.timeout ?? 0;
  return timeoutMs > 0 ? timeoutMs - (now - startedAt) : Number.POSITIVE_INFINITY;
}

/** One request's stay within its deadline: see {@link startDeadline} and {@link startExchangeDeadline}. */
export interface DeadlineScope {
  /** Aborts when the deadline passes or the caller's signal aborts; may be shared: remove what you add to it. */
  readonly signal: AbortSignal;
  /**
   * What the caller gets for `error`: axios's timeout error once the deadline passed
   * (`ECONNABORTED`, or `ETIMEDOUT` with `transitional.clarifyTimeoutError`), axios's
   * `CanceledError` when the caller's signal aborted, anything else as it is.
   */
  failure(error: unknown): unknown;
  /** Done waiting: the deadline no longer applies (and an exchange's config is restored). */
  end(): void;
}

/**
 * What a scope with neither a deadline nor a caller's signal waits with: nothing can abort it, so
 * one signal serves them all (those who listen remove their listeners, see {@link DeadlineScope}),
 * and an exchange leaves the config's `signal` unset, so axios does not listen either.
 */
const NEVER_ABORTED = new AbortController().signal;
setMaxListeners(0, NEVER_ABORTED);

/**
 * The signal is the tick's own when the caller gave no signal (nothing allocated but this
 * object); a shared one that never aborts with neither a deadline nor a caller's signal (a
 * `timeout` of 0); otherwise an AbortController of its own follows the caller's signal and the
 * tick.
 */
class Scope implements DeadlineScope {
  readonly signal: AbortSignal;
  readonly #config: InternalAxiosRequestConfig;
  readonly #timeoutMs: number;
  readonly #userSignal: AbortSignal | undefined;
  readonly #tick: DeadlineTick | undefined;
  readonly #onAbort: (() => void) | undefined;
  /** An exchange's: the config's `timeout` (and `signal`, unless it is {@link NEVER_ABORTED}) are swapped while it runs. */
  readonly #exchange: boolean;

  constructor(config: InternalAxiosRequestConfig, exchange: boolean) {
    const userSignal = config.signal as AbortSignal | undefined;
    const timeoutMs = config.timeout ?? 0;
    const now = performance.now();
    const remaining =
      config.serviceTitanAuth?.startedAt === undefined && timeoutMs > 0 ? timeoutMs : timeLeftMs(config, now);
    if (remaining <= 0) throw timeoutError(config);
    if (userSignal?.aborted) throw new CanceledError(undefined, config);
    this.#config = config;
    this.#timeoutMs = timeoutMs;
    this.#userSignal = userSignal;
    this.#exchange = exchange;
    const tick = Number.isFinite(remaining) ? joinTick(now + remaining, now) : undefined;
    this.#tick = tick;
    // A streamed body is read after the adapter returns, with the adapter still listening on the
    // signal until it ends: it gets a signal of its own, which nothing aborts once the scope ends.
    if (tick === undefined && userSignal === undefined) {
      this.signal = NEVER_ABORTED;
    } else if (tick !== undefined && userSignal === undefined && !(exchange && config.responseType === 'stream')) {
      this.signal = tick.controller.signal;
    } else {
      const own = new AbortController();
      const onAbort = () =>
        own.abort(tick?.controller.signal.aborted === true ? tick.controller.signal.reason : userSignal?.reason);
      userSignal?.addEventListener('abort', onAbort, { once: true });
      tick?.controller.signal.addEventListener('abort', onAbort, { once: true });
      this.#onAbort = onAbort;
      this.signal = own.signal;
    }
    if (exchange) {
      if (this.signal !== NEVER_ABORTED) config.signal = this.signal;
      config.timeout = 0;
    }
  }

  failure(error: unknown): unknown {
    if (this.#tick?.controller.signal.aborted === true) return timeoutError(this.#config, this.#timeoutMs);
    if (this.#userSignal?.aborted && !(isAxiosError(error) && error.code === AxiosError.ERR_CANCELED)) {
      return new CanceledError(undefined, this.#config);
    }
    return error;
  }

  end(): void {
    if (this.#exchange) {
      if (this.#userSignal !== undefined) this.#config.signal = this.#userSignal;
      else if (this.signal !== NEVER_ABORTED) delete this.#config.signal;
      this.#config.timeout = this.#timeoutMs;
    }
    if (this.#onAbort !== undefined) {
      this.#userSignal?.removeEventListener('abort', this.#onAbort);
      this.#tick?.controller.signal.removeEventListener('abort', this.#onAbort);
    }
    if (this.#tick !== undefined) leaveTick(this.#tick);
  }
}

/**
 * Starts waiting within what is left of the request's `timeout`, and its `signal` (pass the
 * scope's signal on to what you wait for; what is shared, such as the token fetch, goes on for
 * the others). Throws axios's timeout error when no time is left, its `CanceledError` when the
 * signal already aborted. End the scope exactly once.
 */
export function startDeadline(config: InternalAxiosRequestConfig): DeadlineScope {
  return new Scope(config, false);
}

/**
 * {@link startDeadline} for one attempt's waits and HTTP exchange: until the scope ends, axios's
 * own timeout is off (the deadline covers the whole exchange, a trickling body included) and the
 * config's `signal` is the scope's; ending it restores both, so a retry sees the caller's settings.
 */
export function startExchangeDeadline(config: InternalAxiosRequestConfig): DeadlineScope {
  return new Scope(config, true);
}

/** Runs `run` with the scope's signal, maps its failure to axios's errors, and ends the scope. (Callers stay `async`: `startDeadline` throws when no time is left, and that must be a rejection.) */
async function runInScope<T>(deadline: DeadlineScope, run: (signal: AbortSignal) => Promise<T>): Promise<T> {
  try {
    return await run(deadline.signal);
  } catch (error) {
    throw deadline.failure(error);
  } finally {
    deadline.end();
  }
}

/**
 * Waits for `run` {@link startDeadline within the request's deadline}: a timeout rejects exactly
 * like axios's own, an abort with axios's `CanceledError`, so retry conditions and callers'
 * checks keep working; any other error of `run` passes through.
 */
export async function untilDeadline<T>(
  config: InternalAxiosRequestConfig,
  run: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  return runInScope(startDeadline(config), run);
}

/** Runs the waits and the HTTP exchange of one attempt {@link startExchangeDeadline within its deadline}. */
export async function withinDeadline<T>(
  config: InternalAxiosRequestConfig,
  run: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  return runInScope(startExchangeDeadline(config), run);
}

const DEADLINE_BOUND = Symbol('servicetitan-deadline-bound');
type Adapter = (config: InternalAxiosRequestConfig) => Promise<AxiosResponse>;

/** Marks an adapter that runs its exchange {@link withinDeadline} (the client's rate limiter). */
export function markDeadlineBound<T extends Adapter>(adapter: T): T {
  return Object.assign(adapter, { [DEADLINE_BOUND]: true });
}

/**
 * Makes the request's exchange (and the replay's, which copies its config) end by its deadline,
 * not `timeout` after it was sent: for an attached instance, whose adapter is the user's. A
 * no-op when the adapter is already bound (a `createServiceTitanClient` client).
 */
export function bindAdapterToDeadline(config: InternalAxiosRequestConfig): void {
  // Without a timeout there is no deadline to bind: the adapter honours the signal itself.
  if (!((config.timeout ?? 0) > 0)) return;
  const current = config.adapter as Partial<Record<typeof DEADLINE_BOUND, boolean>> | undefined;
  if (current?.[DEADLINE_BOUND] === true) return;
  const adapter = getAdapter(config.adapter ?? axios.defaults.adapter, config) as Adapter;
  let bound = boundAdapters.get(adapter);
  if (bound === undefined) {
    bound = markDeadlineBound((request) => withinDeadline(request, () => adapter(request)));
    boundAdapters.set(adapter, bound);
  }
  config.adapter = bound;
}

/** One bound adapter per adapter: binding is on every request's path, and a closure each costs. */
const boundAdapters = new WeakMap<Adapter, Adapter>();

/** The error axios's own adapters give a request that ran out of time. */
export function timeoutError(config: InternalAxiosRequestConfig, timeoutMs = config.timeout ?? 0): AxiosError {
  const clarify = config.transitional?.clarifyTimeoutError === true;
  return new AxiosError(
    config.timeoutErrorMessage ?? `timeout of ${timeoutMs}ms exceeded`,
    clarify ? AxiosError.ETIMEDOUT : AxiosError.ECONNABORTED,
    config,
  );
}
