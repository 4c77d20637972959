/** Where a ServiceTitan environment lives: its token endpoint and its API origin. */
export interface ServiceTitanEnvironment {
  /** The OAuth 2.0 token endpoint (full URL, `/connect/token`). */
  readonly authUrl: string;
  /** The API origin; request paths such as `/crm/v2/tenant/{tenant}/customers` are relative to it. */
  readonly apiUrl: string;
}

/** The name of a built-in environment. */
export type ServiceTitanEnvironmentName = 'integration' | 'production';

/** ServiceTitan's two environments. Client ids and secrets differ between them. */
export const environments: Readonly<Record<ServiceTitanEnvironmentName, ServiceTitanEnvironment>> = Object.freeze({
  integration: Object.freeze({
    authUrl: 'https://auth-integration.servicetitan.io/connect/token',
    apiUrl: 'https://api-integration.servicetitan.io',
  }),
  production: Object.freeze({
    authUrl: 'https://auth.servicetitan.io/connect/token',
    apiUrl: 'https://api.servicetitan.io',
  }),
});
