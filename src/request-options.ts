import type { ApiRetryRequestOptions } from './api-retry';

/** Per-request options of this plugin, under `config.serviceTitanAuth`. */
export interface ServiceTitanRequestOptions {
  /** Send this request without the token and the app key (and without 401 renewal). @default false */
  skip?: boolean;
  /**
   * Retries of this request on a `createServiceTitanClient` client: `false` for none, or
   * `{ retries, retryNonIdempotent }` to override the client's settings.
   * @default the client's `retry` option
   */
  retry?: ApiRetryRequestOptions;
  /**
   * Set by the plugin on the replay after a 401, so a request is renewed and replayed at most
   * once. Internal state: do not set it yourself.
   * @internal
   */
  replayed?: boolean;
  /**
   * Set by the plugin when the request is made (`performance.now()`), so its `timeout` counts
   * the token, waits in the rate limit, retries and the replay. Internal state: do not set it yourself.
   * @internal
   */
  startedAt?: number;
  /**
   * Set with `startedAt` when the request has a `timeout`: `startedAt + timeout`, the moment
   * everything it waits for must be over. Internal state: do not set it yourself.
   * @internal
   */
  deadlineAt?: number;
}

declare module 'axios' {
  interface AxiosRequestConfig {
    /** Options of axios-servicetitan-auth for this request. */
    serviceTitanAuth?: ServiceTitanRequestOptions;
  }
}
