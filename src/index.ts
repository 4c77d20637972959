export { attachServiceTitanAuth } from './attach';
export type { AttachServiceTitanAuthOptions, ServiceTitanAuth } from './attach';
export { createServiceTitanClient } from './client';
export type { ServiceTitanClient, ServiceTitanClientOptions } from './client';
export type { ApiRetryOptions, ApiRetryRequestOptions } from './api-retry';
export type { RateLimitOptions, ReportLimitOptions } from './rate-limit/options';
export type { RateLimitStore, RateLimitTakeAnswer, WrittenRequest } from './rate-limit/store';
export { debugLogger } from './logging/debug-logger';
export type { DebugFactory } from './logging/debug-logger';
export { pinoLogger } from './logging/pino-logger';
export type { PinoLike, PinoLogMethod } from './logging/pino-logger';
export { createTenantClients } from './tenant-clients';
export type { TenantClients, TenantClientsOptions, TenantCredentials } from './tenant-clients';
export { clientOptionsFromEnv, environmentFromEnv } from './env-options';
export type { ClientOptionsFromEnvOptions, EnvEnvironment } from './env-options';
export { environments } from './environments';
export type { ServiceTitanEnvironment, ServiceTitanEnvironmentName } from './environments';
export { ServiceTitanAuthError, ServiceTitanResponseError, isServiceTitanAuthError } from './errors';
export type { ServiceTitanAuthErrorCode, ServiceTitanAuthErrorDetails } from './errors';
export { problemDetails } from './problem-details';
export type { ProblemDetails } from './problem-details';
export { tokenFingerprint } from './logging/logger';
export type { ServiceTitanLogger } from './logging/logger';
export type { ServiceTitanAuthOptions, TokenRequestOptions } from './options';
// A value, not only a type: its declaration is a class, so `instanceof RedactedRequest` must work.
export { RedactedRequest } from './redaction';
export type { ServiceTitanRequestOptions } from './request-options';
export { exportPages, paginate, paginatePages, reportRows } from './pagination';
export type {
  ExportBatch,
  ExportPagesOptions,
  ListPage,
  PaginateOptions,
  ReportParameter,
  ReportRow,
  ReportRowsOptions,
} from './pagination';
export { MemoryTokenStore } from './stores/memory';
export type { StoredToken, TokenLock, TokenOrLock, TokenStore, WaitForTokenOptions } from './stores/types';
export type { GetTokenOptions } from './token/token-provider';
