import { AxiosError, CanceledError, isAxiosError, type InternalAxiosRequestConfig } from 'axios';

/**
 * The default `timeout` of a `createServiceTitanClient` client: ServiceTitan's servers give up
 * on a request after 100 s (and answer an error), so a little more lets that answer arrive,
 * while a connection that went silent is still given up on.
 */
export const DEFAULT_CLIENT_TIMEOUT_MS = 105_000;

/**
 * Notes when the request was made, in the first request interceptor to run (before the token
 * and every other async step): its `timeout` counts from here, waits in the rate limit included.
 * Retries and the replay after a 401 carry the same config, so they share the caller's deadline.
 */
export function markRequestStart(config: InternalAxiosRequestConfig): InternalAxiosRequestConfig {
  if (config.serviceTitanAuth?.startedAt !== undefined) return config;
  config.serviceTitanAuth = { ...config.serviceTitanAuth, startedAt: performance.now() };
  return config;
}

/** Milliseconds left of the request's `timeout` (Infinity without one or outside a client). */
export function timeLeftMs(config: InternalAxiosRequestConfig): number {
  const timeoutMs = config.timeout ?? 0;
  const startedAt = config.serviceTitanAuth?.startedAt;
  if (!(timeoutMs > 0) || startedAt === undefined) return Number.POSITIVE_INFINITY;
  return timeoutMs - (performance.now() - startedAt);
}

/**
 * Runs the waits and the HTTP exchange of one attempt within what is left of its `timeout`, and
 * its `signal`: `run` gets a signal that aborts on either. Axios's own timeout is off while it
 * runs (this one covers the whole exchange, a trickling body included) and both are restored
 * afterwards, so a retry sees the caller's settings. A timeout rejects exactly like axios's own
 * (`ECONNABORTED`, or `ETIMEDOUT` with `transitional.clarifyTimeoutError`), so retry conditions
 * and callers' checks keep working.
 */
export async function withinDeadline<T>(
  config: InternalAxiosRequestConfig,
  run: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const userSignal = config.signal as AbortSignal | undefined;
  const timeoutMs = config.timeout ?? 0;
  const remaining = config.serviceTitanAuth?.startedAt === undefined && timeoutMs > 0 ? timeoutMs : timeLeftMs(config);
  if (remaining <= 0) throw timeoutError(config, timeoutMs);
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
  config.signal = controller.signal;
  config.timeout = 0;
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
    if (userSignal === undefined) delete config.signal;
    else config.signal = userSignal;
    config.timeout = timeoutMs;
  }
}

/** The error axios's own adapters give a request that ran out of time. */
function timeoutError(config: InternalAxiosRequestConfig, timeoutMs: number): AxiosError {
  const clarify = config.transitional?.clarifyTimeoutError === true;
  return new AxiosError(
    config.timeoutErrorMessage ?? `timeout of ${timeoutMs}ms exceeded`,
    clarify ? AxiosError.ETIMEDOUT : AxiosError.ECONNABORTED,
    config,
  );
}
