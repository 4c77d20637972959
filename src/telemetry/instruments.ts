import type { Counter, Histogram, Meter, UpDownCounter } from '@opentelemetry/api';

/** The meter's name: the package's, as OpenTelemetry's instrumentation-scope convention asks. */
export const INSTRUMENTATION_SCOPE = 'axios-servicetitan-auth';

/**
 * Every instrument the library records, by name. Units follow UCUM as OpenTelemetry's
 * conventions ask: durations in seconds (`s`), counts as annotations (`{request}`).
 */
export const METRIC = {
  tokenRequests: 'servicetitan.auth.token.requests',
  tokenRequestDuration: 'servicetitan.auth.token.request.duration',
  tokenRetries: 'servicetitan.auth.token.retries',
  replays: 'servicetitan.auth.replays',
  renewalsHeldBack: 'servicetitan.auth.renewals_held_back',
  rateLimitWaitDuration: 'servicetitan.rate_limit.wait.duration',
  rateLimitWaiting: 'servicetitan.rate_limit.waiting',
  storeFallbacks: 'servicetitan.store.fallbacks',
} as const;

// The SDK's default buckets (0, 5, 10, 25 … 10000) are made for milliseconds: in seconds they
// would put every token request and almost every wait in the first two buckets.
const TOKEN_REQUEST_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
const RATE_LIMIT_WAIT_BUCKETS = [0, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/** The instruments on one meter. */
export interface Instruments {
  tokenRequests: Counter;
  tokenRequestDuration: Histogram;
  tokenRetries: Counter;
  replays: Counter;
  renewalsHeldBack: Counter;
  rateLimitWaitDuration: Histogram;
  rateLimitWaiting: UpDownCounter;
  storeFallbacks: Counter;
}

export function createInstruments(meter: Meter): Instruments {
  return {
    tokenRequests: meter.createCounter(METRIC.tokenRequests, {
      unit: '{request}',
      description:
        'Token requests to the OAuth token endpoint, by outcome and by why they were made (retries not counted)',
    }),
    tokenRequestDuration: meter.createHistogram(METRIC.tokenRequestDuration, {
      unit: 's',
      description: 'Duration of token requests, retries and their backoff included',
      advice: { explicitBucketBoundaries: TOKEN_REQUEST_BUCKETS },
    }),
    tokenRetries: meter.createCounter(METRIC.tokenRetries, {
      unit: '{request}',
      description: 'Extra HTTP requests to the token endpoint made by retries (network errors, timeouts, 5xx, 429)',
    }),
    replays: meter.createCounter(METRIC.replays, {
      unit: '{request}',
      description: 'API requests replayed with a renewed token after a 401',
    }),
    renewalsHeldBack: meter.createCounter(METRIC.renewalsHeldBack, {
      unit: '{request}',
      description:
        'API 401s passed to the caller without a renewal (the token was itself obtained for a 401 moments ago)',
    }),
    rateLimitWaitDuration: meter.createHistogram(METRIC.rateLimitWaitDuration, {
      unit: 's',
      description: 'Time API requests waited in the client-side rate limiter before being sent',
      advice: { explicitBucketBoundaries: RATE_LIMIT_WAIT_BUCKETS },
    }),
    rateLimitWaiting: meter.createUpDownCounter(METRIC.rateLimitWaiting, {
      unit: '{request}',
      description: 'API requests waiting in the client-side rate limiter now',
    }),
    storeFallbacks: meter.createCounter(METRIC.storeFallbacks, {
      unit: '{fallback}',
      description:
        'Calls to a shared store (token store, rate-limit store) that failed, so the work fell back to this process',
    }),
  };
}
