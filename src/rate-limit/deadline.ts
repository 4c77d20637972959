import axios, {
  AxiosError,
  CanceledError,
  getAdapter,
  isAxiosError,
  type AxiosResponse,
  type InternalAxiosRequestConfig,
} from 'axios';

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
  config.serviceTitanAuth = {
    ...config.serviceTitanAuth,
    startedAt,
    ...(timeoutMs > 0 ? { deadlineAt: startedAt + timeoutMs } : {}),
  };
  return config;
}

/** Milliseconds left of the request's `timeout` (Infinity without one, or before {@link markRequestStart}). */
export function timeLeftMs(config: InternalAxiosRequestConfig): number {
  const { startedAt, deadlineAt } = config.serviceTitanAuth ?? {};
  if (startedAt === undefined) return Number.POSITIVE_INFINITY;
  if (deadlineAt !== undefined) return deadlineAt - performance.now();
  // No timeout when it was made; one set later (by an interceptor) counts from the start too.
  const timeoutMs = config.timeout ?? 0;
  return timeoutMs > 0 ? timeoutMs - (performance.now() - startedAt) : Number.POSITIVE_INFINITY;
}

/**
 * Waits for `run` within what is left of the request's `timeout`, and its `signal`: `run` gets a
 * signal that aborts on either (pass it on to what you wait for; what is shared, such as the
 * token fetch, goes on for the others). A timeout rejects exactly like axios's own
 * (`ECONNABORTED`, or `ETIMEDOUT` with `transitional.clarifyTimeoutError`), an abort with axios's
 * `CanceledError`, so retry conditions and callers' checks keep working; any other error of
 * `run` passes through.
 */
export async function untilDeadline<T>(
  config: InternalAxiosRequestConfig,
  run: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const userSignal = config.signal as AbortSignal | undefined;
  const timeoutMs = config.timeout ?? 0;
  const remaining = config.serviceTitanAuth?.startedAt === undefined && timeoutMs > 0 ? timeoutMs : timeLeftMs(config);
  if (remaining <= 0) throw timeoutError(config);
  if (userSignal?.aborted) throw new CanceledError(undefined, config);

  const controller = new AbortController();
  let timedOut = false;
  let timer: NodeJS.Timeout | undefined;
  if (Number.isFinite(remaining)) {
    timer = setTimeout(() => {
      timedOut = true;
      controller.abort(timeoutError(config, timeoutMs));
    }, Math.ceil(remaining));
    timer.unref();
  }
  const onUserAbort = () => controller.abort(userSignal?.reason);
  userSignal?.addEventListener('abort', onUserAbort, { once: true });
  try {
    return await run(controller.signal);
  } catch (error) {
    if (timedOut) throw timeoutError(config, timeoutMs);
    if (userSignal?.aborted && !(isAxiosError(error) && error.code === AxiosError.ERR_CANCELED)) {
      throw new CanceledError(undefined, config);
    }
    throw error;
  } finally {
    clearTimeout(timer);
    userSignal?.removeEventListener('abort', onUserAbort);
  }
}

/**
 * Runs the waits and the HTTP exchange of one attempt {@link untilDeadline}. Axios's own timeout
 * is off while it runs (the deadline covers the whole exchange, a trickling body included) and
 * the config's `signal` is the deadline's; both are restored afterwards, so a retry sees the
 * caller's settings.
 */
export async function withinDeadline<T>(
  config: InternalAxiosRequestConfig,
  run: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const userSignal = config.signal;
  const timeoutMs = config.timeout ?? 0;
  return untilDeadline(config, async (signal) => {
    config.signal = signal;
    config.timeout = 0;
    try {
      return await run(signal);
    } finally {
      if (userSignal === undefined) delete config.signal;
      else config.signal = userSignal;
      config.timeout = timeoutMs;
    }
  });
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
