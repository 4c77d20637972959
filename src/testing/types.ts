/**
 * Public types of the ServiceTitan sandbox (`axios-servicetitan-auth/testing`).
 *
 * The sandbox is a real HTTP emulator of ServiceTitan's token endpoint and API on 127.0.0.1,
 * faithful to the documented facts (client-credentials only, 900 s tokens, JWT `at+jwt` access
 * tokens, `ST-App-Key` on every call, tenant-scoped paths, RFC 7807 error bodies) and
 * configurable where ServiceTitan's behaviour is not documented.
 */

/** One set of working credentials the sandbox accepts. */
export interface SandboxCredentials {
  clientId: string;
  clientSecret: string;
  /** The tenant the client's tokens are issued for (the `tenant` claim). */
  tenantId: string;
}

/** How the token endpoint words its errors: not documented by ServiceTitan. */
export type TokenErrorStyle =
  /** IdentityServer's answer: `400 {"error":"invalid_client"}` (default). */
  | 'oauth'
  /** An RFC 7807 problem body: `400 {"type","title","status","traceId"}`. */
  | 'problem';

/** How a 429 tells the client when to come back: not documented by ServiceTitan. */
export type RetryAfterStyle = 'seconds' | 'http-date' | 'absent';

export interface SandboxOptions {
  /** Port to listen on for the API; `0` picks a free one. @default 0 */
  apiPort?: number;
  /** Port to listen on for the token endpoint; `0` picks a free one. @default 0 */
  authPort?: number;
  /** Credentials the token endpoint accepts. @default one generated client for tenant `'1000'` */
  clients?: SandboxCredentials[];
  /** The application key the API requires in `ST-App-Key`. @default a generated `ak1.…` key */
  appKey?: string;
  /** Whether API calls without a valid `ST-App-Key` are refused (401 problem). @default true */
  requireAppKey?: boolean;
  /**
   * Lifetime of issued tokens, in ms: a whole number of seconds (a multiple of 1000), because
   * `expires_in` and the JWT's `exp` are whole seconds on the wire. ServiceTitan: 900 s.
   * @default 900_000
   */
  tokenLifetimeMs?: number;
  /** @deprecated Use tokenLifetimeMs (in ms: seconds × 1000). */
  tokenLifetimeSeconds?: number;
  /** `scope` of issued tokens. @default 'tn.crm.customers:r tn.jpm.jobs:r' (any space-separated list) */
  scope?: string;
  /** Shape of the token endpoint's error bodies. @default 'oauth' */
  tokenErrorStyle?: TokenErrorStyle;
  /** Shape of 401 bodies from the API: an RFC 7807 problem (default) or an empty body. @default 'problem' */
  unauthorizedBody?: 'problem' | 'empty';
  /** Default `Retry-After` style on injected 429s that do not set it. @default 'seconds' */
  retryAfterStyle?: RetryAfterStyle;
  /**
   * Number of customers each tenant starts with (ids 1..n, all active, in the shape of
   * ServiceTitan's `CustomerResponse`). `POST` and `PATCH` on the customers routes then change
   * that tenant's copy. @default 120
   */
  customerCount?: number;
  /** Number of records per batch of the export feed (`/crm/v2/tenant/{t}/export/customers`). @default 50 */
  exportBatchSize?: number;
  /** Keep a log of the last N requests (token and API) for assertions; counters are always kept. @default 10_000 */
  requestLogLimit?: number;
  /**
   * ServiceTitan's API rate limit: at most `requestsPerSecond` calls per (application key,
   * tenant) in any sliding one-second window. It counts the calls that pass authentication (a
   * 401 / 403 does not count, and neither does a refused call); the excess is answered `429` with
   * an RFC 7807 problem and a `Retry-After` per `retryAfterStyle` (seconds: the time until a slot
   * frees, rounded up, at least 1). Measured on a monotonic clock (`performance.now()`), so
   * faking `Date` does not affect it. `false` turns it off.
   * @default { requestsPerSecond: 60 } (ServiceTitan's documented limit)
   */
  rateLimit?: { requestsPerSecond?: number } | false;
  /**
   * ServiceTitan's reporting limit: at most `perMinute` calls of the same report per tenant in
   * any sliding 60-second window, on `POST /reporting/v2/tenant/{t}/report-category/{c}/reports/{id}/data`
   * (each page fetched is one call). The excess is answered `429` with `Retry-After` per
   * `retryAfterStyle`. Measured with `Date.now()`, so a faked `Date` applies. `false` turns it off.
   * Published sources say 5 or 1 per minute; the default is the stricter one.
   * @default { perMinute: 1 }
   */
  reportRateLimit?: { perMinute?: number } | false;
  /**
   * Number of rows in every report's data. The route follows ServiceTitan's reporting spec:
   * `POST …/reports/{id}/data` only (`405` with `Allow: POST` otherwise), query `page`,
   * `pageSize` 1–25 000 (default 1000) and `includeTotal`, body `{ parameters: [{ name, value? }] }`
   * and nothing else (`400` with `errors` otherwise), answer `{ fields: [{ name, label }], page, pageSize, hasMore, totalCount,
   * data: [[…], …] }` with deterministic rows. @default 75
   */
  reportRowCount?: number;
}

/**
 * A scripted answer for the next matching request. Faults are consumed in FIFO order, one per
 * request (a fault with `times: n` serves n requests).
 */
export interface Fault {
  /** Only requests for which this returns true consume the fault. @default every request */
  match?: (request: SandboxRequestRecord) => boolean;
  /** How many requests this fault serves. @default 1 */
  times?: number;
  /** Wait this long before answering (then answer with `status`, or normally if no status). */
  delayMs?: number;
  /** Answer with this status. The body defaults to the endpoint's error shape for that status. */
  status?: number;
  /** Raw body: a string is sent as is (e.g. HTML, '' or broken JSON); anything else as JSON. */
  body?: unknown;
  /** Content type of `body`. @default 'application/json' for non-strings, 'text/html' for strings */
  contentType?: string;
  /** Extra response headers. */
  headers?: Record<string, string>;
  /**
   * `Retry-After` of this answer as a delay in ms, a whole number of seconds (a multiple of 1000)
   * because the header carries whole seconds: `retryAfterMs: 2_000` sends `Retry-After: 2`.
   * `'absent'` sends none, even on a 429. Give this or `retryAfterDate`, not both.
   * @default on a 429 the sandbox's `retryAfterStyle`, otherwise none
   */
  retryAfterMs?: number | 'absent';
  /** `Retry-After` of this answer as an HTTP date (`Date.toUTCString()`), e.g. `new Date(Date.now() + 2_000)`. */
  retryAfterDate?: Date;
  /**
   * @deprecated Use retryAfterMs (a number of seconds × 1000, or `'absent'`) or retryAfterDate
   * (a Date).
   */
  retryAfter?: number | Date | 'absent';
  /** Never answer (until `close()`), to exercise client timeouts. */
  hang?: boolean;
  /** Destroy the socket without answering (a connection reset). */
  reset?: boolean;
  /** Start a 200 response then reset the connection mid-body. */
  resetMidBody?: boolean;
  /**
   * Send the headers (`status`, default 200) at once, then the body one byte every `trickleMs`
   * ms: the fault's `body`, or an endless run of spaces (valid JSON whitespace) until the client
   * goes away or the sandbox closes. Defeats idle timeouts such as axios's `timeout`, which every
   * byte resets; only a deadline on the whole exchange ends it.
   */
  trickleMs?: number;
  /**
   * Answer (`status`, default 200) a well-formed token answer of this many bytes
   * (`{"access_token":"aaa…","token_type":"Bearer","expires_in":900}`), chunked unless `headers`
   * sets a `content-length`. Generated lazily in 64 KiB pieces with back-pressure, so a 200 MB
   * answer (`200 * 1024 * 1024`) costs the sandbox almost no memory; tests a client's size cap.
   */
  largeBodyBytes?: number;
  /** Answer `302 Location: <redirectTo>` (status overridable with `status`). */
  redirectTo?: string;
}

/** What the sandbox recorded about one request. Never stores secrets in clear. */
export interface SandboxRequestRecord {
  /** 'token' for the token endpoint, 'api' for the API. */
  endpoint: 'token' | 'api';
  method: string;
  /** Path without the query string. */
  path: string;
  /** Parsed query parameters. */
  query: Record<string, string>;
  /** Lower-cased request headers (the `authorization` header is reduced to its scheme + token id). */
  headers: Record<string, string | string[] | undefined>;
  /** For API requests: the `jti` (e.g. 'tok-3') of the bearer token sent, if any and well-formed. */
  tokenId?: string;
  /** For API requests: the `ST-App-Key` header value, if any. */
  appKey?: string;
  /** For token requests: the client id and grant type sent in the form body. */
  clientId?: string;
  grantType?: string;
  /** Status the sandbox answered (undefined while held / hanging / reset). */
  status?: number;
  /** Milliseconds since the sandbox started (Date.now() based, so fake clocks apply). */
  at: number;
}

/** Options of {@link Hold.untilWaiting}. */
export interface UntilWaitingOptions {
  /**
   * Give up (reject) after this many milliseconds. The timer is not `unref`'d: an `await` at
   * the top level of a script settles instead of ending the process silently.
   * @default 5000
   */
  timeoutMs?: number;
}

/**
 * Requests held in flight: while a hold is active, matching requests wait (counted in `waiting`)
 * until `release()`; they are then processed normally (faults and all).
 */
export interface Hold {
  /** Requests currently waiting on this hold. */
  readonly waiting: number;
  /**
   * Resolves once at least `count` requests are waiting on this hold. Rejects when the hold is
   * released (or the sandbox closed) first, or after `timeoutMs`, saying how many were waiting:
   * a test that forgot to start its requests fails instead of hanging.
   *
   * @example
   * const hold = sandbox.api.hold();
   * const calls = Promise.all([client.get(url), client.get(url)]); // start them first…
   * await hold.untilWaiting(2);                                     // …then wait until both are held
   * hold.release();
   * await calls;
   */
  untilWaiting(count: number, options?: UntilWaitingOptions): Promise<void>;
  /** Let every waiting and future request through; the hold is over. */
  release(): void;
}

/** One endpoint (token or API) of the sandbox: counters, log, faults and holds. */
export interface SandboxEndpoint {
  /** Number of requests received (including faulted, held and rejected ones). */
  readonly count: number;
  /** The most recent requests (up to `requestLogLimit`), oldest first. */
  readonly requests: readonly SandboxRequestRecord[];
  /**
   * Requests the sandbox answered `429` by its own limits (`rateLimit`, `reportRateLimit`), since
   * start / `resetCounters()`. Injected 429 faults are not counted here. Always 0 on the token
   * endpoint.
   */
  readonly rateLimited: number;
  /** Largest number of requests in flight at once since start / `resetCounters()`. */
  readonly maxInFlight: number;
  /**
   * The most requests that arrived in any rolling window of `windowMs` (half-open, on the
   * arrival times of the request log, so at most `requestLogLimit` requests are looked at, on
   * the monotonic clock the sandbox's own rate limit reads): how ServiceTitan's per-second limit
   * sees the traffic. With `match`, only the requests it accepts count (e.g. one application's,
   * while a test sends other traffic to the same server).
   * @default windowMs 1000
   * @example
   * sandbox.api.maxArrivals(1000, (request) => request.tokenId !== undefined);
   */
  maxArrivals(windowMs?: number, match?: (request: SandboxRequestRecord) => boolean): number;
  /** Requests currently in flight. */
  readonly inFlight: number;
  /** Queue scripted answers for the next matching requests. */
  enqueue(...faults: Fault[]): void;
  /** Faults still queued, counted in uses (a fault with `times: 3` counts 3 until it serves). */
  readonly pendingFaults: number;
  /** Hold matching requests in flight until released. */
  hold(match?: (request: SandboxRequestRecord) => boolean): Hold;
}

/** The sandbox's working settings in the shape of the library's client options. */
export interface SandboxClientOptions {
  readonly clientId: string;
  readonly clientSecret: string;
  readonly appKey: string;
  readonly environment: { authUrl: string; apiUrl: string };
  readonly tenantId: string;
}

export interface Sandbox {
  /** The token endpoint, e.g. `http://127.0.0.1:43123/connect/token`. */
  readonly authUrl: string;
  /** The API origin, e.g. `http://127.0.0.1:43124`. */
  readonly apiUrl: string;
  /** `{ authUrl, apiUrl }`, ready for the `environment` option. */
  readonly environment: { authUrl: string; apiUrl: string };
  /** The first client's credentials. */
  readonly clientId: string;
  readonly clientSecret: string;
  readonly tenantId: string;
  /** Every accepted client. */
  readonly clients: readonly SandboxCredentials[];
  /** The application key the API accepts. */
  readonly appKey: string;
  /**
   * The first client's settings, ready to spread into `createServiceTitanClient` (or
   * `attachServiceTitanAuth`, which ignores `tenantId`):
   * `createServiceTitanClient({ ...sandbox.clientOptions })`.
   */
  readonly clientOptions: SandboxClientOptions;
  readonly token: SandboxEndpoint;
  readonly api: SandboxEndpoint;
  /** Number of tokens issued so far (`tok-1`, `tok-2`, … are their `jti`s). */
  readonly tokensIssued: number;
  /** Distinct token ids (`jti`) the API has seen, in order of first use. */
  readonly tokensSeen: readonly string[];
  /** Make the API reject every token issued so far (401), as after a revocation. */
  revokeAllTokens(): void;
  /** Make the API reject one token (by `jti` or the raw token). */
  revokeToken(tokenOrId: string): void;
  /**
   * Zero the counters and logs, `tokensIssued`, `tokensSeen` and `rateLimited` included (faults,
   * holds, revocations and the rate-limit windows stay; token ids keep counting, so tokens stay
   * distinct).
   */
  resetCounters(): void;
  /** Stop both servers, end held/hanging requests and close every connection. */
  close(): Promise<void>;
}
