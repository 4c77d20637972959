// Type tests, checked by `npm run typecheck` (never executed): the new option names compile, the
// deprecated ones still compile (marked @deprecated: editors strike them through), misuse does not.
import pLimit from 'p-limit';
import {
  createServiceTitanClient,
  createTenantClients,
  type ServiceTitanAuthOptions,
  type TenantClientsOptions,
  type TokenRequestOptions,
} from '../../src';
import type { Fault, SandboxOptions } from '../../src/testing';

const base = { clientId: 'cid', clientSecret: 'secret', appKey: 'ak1', environment: 'integration' } as const;

const tokenRequest: TokenRequestOptions = {
  timeoutMs: 10_000,
  retries: 2,
  retryDelayMs: 300,
  maxRetryAfterMs: 30_000,
  rateLimitedCooldownMs: 5_000,
  failureCooldownMs: 1_000,
  maxInvalidClientCooldownMs: 300_000,
  limiter: pLimit(1),
  fleetWaitMs: 32_000,
};
const renamed: ServiceTitanAuthOptions = { ...base, refreshBufferMs: 60_000, renewalCooldownMs: 10_000, tokenRequest };
createServiceTitanClient({ ...renamed, retry: { retries: 3, maxRetryAfterMs: 60_000 } });

// The names of 0.1 keep compiling.
const deprecated: ServiceTitanAuthOptions = {
  ...base,
  refreshBufferSeconds: 60,
  tokenTimeoutMs: 10_000,
  tokenRetries: 2,
  tokenRetryDelayMs: 300,
  maxRetryAfterMs: 30_000,
  rateLimitCooldownMs: 5_000,
  failureCooldownMs: 1_000,
  maxInvalidClientCooldownMs: 300_000,
  tokenLimiter: pLimit(1),
  fleetWaitMs: 32_000,
};
createServiceTitanClient(deprecated);

// Tenant clients share one limiter (tokenConcurrency): every other token option is theirs.
const tenants: TenantClientsOptions = {
  environment: 'integration',
  appKey: 'ak1',
  credentials: () => ({ clientId: 'cid', clientSecret: 'secret' }),
  tokenRequest: { retries: 1, timeoutMs: 5_000 },
  tokenRetries: 1,
};
createTenantClients(tenants);
// @ts-expect-error the limiter of tenant clients is tokenConcurrency
createTenantClients({ ...tenants, tokenRequest: { limiter: pLimit(2) } });
// @ts-expect-error ... under its old name too
createTenantClients({ ...tenants, tokenLimiter: pLimit(2) });

// @ts-expect-error a duration is a number of ms
createServiceTitanClient({ ...base, tokenRequest: { timeoutMs: '10s' } });
// @ts-expect-error an unknown field of tokenRequest
createServiceTitanClient({ ...base, tokenRequest: { retryCount: 2 } });
// @ts-expect-error token options live under tokenRequest, not retry (API requests)
createServiceTitanClient({ ...base, retry: { failureCooldownMs: 1_000 } });

// The sandbox: new names and the deprecated ones.
const sandboxOptions: SandboxOptions[] = [{ tokenLifetimeMs: 900_000 }, { tokenLifetimeSeconds: 900 }];
const faults: Fault[] = [
  { status: 429, retryAfterMs: 2_000 },
  { status: 429, retryAfterMs: 'absent' },
  { status: 429, retryAfterDate: new Date() },
  { status: 429, retryAfter: 2 },
  { status: 429, retryAfter: new Date() },
  { status: 429, retryAfter: 'absent' },
];
// @ts-expect-error retryAfterMs is a number of ms or 'absent': a date goes in retryAfterDate
const dated: Fault = { status: 429, retryAfterMs: new Date() };
void [sandboxOptions, faults, dated];
