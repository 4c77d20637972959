/**
 * Waits for `promise` unless `signal` aborts first, in which case it rejects at once with the
 * signal's reason. The promise itself goes on (it is shared with other waiters).
 */
export function abortable<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return promise;
  if (signal.aborted) return Promise.reject(abortReason(signal));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(abortReason(signal));
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

/** The signal's reason, or the DOMException an abort without one stands for. */
export function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException('This operation was aborted', 'AbortError');
}

/**
 * True when `error` is what waiting on `signal` rejected with because it aborted ({@link abortable},
 * `signal.throwIfAborted()`): tells a real abort apart from any other failure of the wait.
 */
export function isAbortOf(error: unknown, signal: AbortSignal | undefined): boolean {
  return signal?.aborted === true && (error === signal.reason || signal.reason === undefined);
}
