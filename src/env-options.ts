import type { ServiceTitanClientOptions } from './client';
import { environments, type ServiceTitanEnvironment, type ServiceTitanEnvironmentName } from './environments';
import { invalidConfig } from './errors';
import { normalizeTenantId } from './tenant-id';
import { checkSecureUrl, describe } from './urls';

/**
 * The environment variables {@link clientOptionsFromEnv} reads, by what they hold (shown with
 * the default prefix `ST_`). `npx axios-servicetitan-auth sandbox` prints all of them.
 */
export const ENV_VARIABLE_SUFFIXES = {
  clientId: 'CLIENT_ID',
  clientSecret: 'CLIENT_SECRET',
  appKey: 'APP_KEY',
  tenantId: 'TENANT_ID',
  environment: 'ENVIRONMENT',
  authUrl: 'AUTH_URL',
  apiUrl: 'API_URL',
} as const;

type VariableKey = keyof typeof ENV_VARIABLE_SUFFIXES;

/** Where and how {@link clientOptionsFromEnv} reads. */
export interface ClientOptionsFromEnvOptions {
  /**
   * The variables to read.
   * @default process.env
   */
  env?: Readonly<Record<string, string | undefined>>;
  /**
   * Prefix of every variable name, e.g. `'ST_PRODUCTION_'` for `ST_PRODUCTION_CLIENT_ID`, ….
   * @default 'ST_'
   */
  prefix?: string;
  /**
   * When no variable with the prefix is set at all, return `undefined` (so the caller can fall
   * back to a sandbox) instead of throwing. Half-set variables throw either way.
   * @default false
   */
  optional?: boolean;
  /**
   * The environment when neither `<prefix>ENVIRONMENT` nor the URL pair is set and the prefix
   * names none. It must agree with a prefix that names an environment.
   * @default undefined (no default: the environment must be named, else `invalid_config`)
   */
  defaultEnvironment?: ServiceTitanEnvironmentName;
  /**
   * Throw when `<prefix>TENANT_ID` is missing (for clients that fill `{tenant}` in URLs).
   * @default false
   */
  requireTenantId?: boolean;
}

/** The variable names for a prefix: `{ clientId: 'ST_CLIENT_ID', … }`. */
export function envVariableNames(prefix = 'ST_'): Record<VariableKey, string> {
  const names = {} as Record<VariableKey, string>;
  for (const key of Object.keys(ENV_VARIABLE_SUFFIXES) as VariableKey[]) {
    names[key] = `${prefix}${ENV_VARIABLE_SUFFIXES[key]}`;
  }
  return names;
}

/**
 * Options for {@link createServiceTitanClient} (or `attachServiceTitanAuth`) from `ST_*`
 * environment variables, read the same way by the examples, the demo and the CLI:
 * `ST_CLIENT_ID`, `ST_CLIENT_SECRET` and `ST_APP_KEY` (required), `ST_TENANT_ID` (optional unless
 * `requireTenantId`), and where to connect: `ST_AUTH_URL` + `ST_API_URL` (both, e.g. printed by
 * `npx axios-servicetitan-auth sandbox`) win over `ST_ENVIRONMENT` (`integration` or
 * `production`). There is no default environment: it is named by `<prefix>ENVIRONMENT`, by a
 * prefix with an `INTEGRATION` or `PRODUCTION` (or `PROD`) segment (`ST_PRODUCTION_` means
 * production), or by the `defaultEnvironment` option. Values are trimmed; an empty variable
 * counts as unset.
 *
 * Throws `ServiceTitanAuthError` `invalid_config` naming every missing variable, a URL variable
 * set without its pair or not a secure URL, an unknown `ST_ENVIRONMENT`, an environment named
 * nowhere or named two different ways (`ST_PRODUCTION_ENVIRONMENT=integration`), a
 * `ST_TENANT_ID` that is not a tenant id, or a credential with a line break. Messages name the
 * variable (with its prefix), never its value: a secret pasted on the wrong line must not reach
 * a log.
 *
 * @example
 * import { clientOptionsFromEnv, createServiceTitanClient } from 'axios-servicetitan-auth';
 *
 * const client = createServiceTitanClient(clientOptionsFromEnv({ requireTenantId: true }));
 * const { data } = await client.get('/crm/v2/tenant/{tenant}/customers');
 */
export function clientOptionsFromEnv(
  options?: ClientOptionsFromEnvOptions & { optional?: false },
): ServiceTitanClientOptions;
export function clientOptionsFromEnv(
  options: ClientOptionsFromEnvOptions & { optional: true },
): ServiceTitanClientOptions | undefined;
export function clientOptionsFromEnv(options?: ClientOptionsFromEnvOptions): ServiceTitanClientOptions | undefined;
export function clientOptionsFromEnv(options: ClientOptionsFromEnvOptions = {}): ServiceTitanClientOptions | undefined {
  const env = options.env ?? process.env;
  const names = envVariableNames(options.prefix ?? 'ST_');
  const read = (key: VariableKey) => nonEmpty(env[names[key]]);
  if (options.optional === true && (Object.keys(names) as VariableKey[]).every((key) => read(key) === undefined)) {
    return undefined;
  }
  const required: VariableKey[] = ['clientId', 'clientSecret', 'appKey'];
  if (options.requireTenantId === true) required.push('tenantId');
  const missing = required.filter((key) => read(key) === undefined).map((key) => names[key]);
  if (missing.length > 0) {
    throw invalidConfig(
      `missing environment variable${missing.length > 1 ? 's' : ''} ${missing.join(', ')} ` +
        `(set ${required.map((key) => names[key]).join(', ')}${options.optional === true ? ', or none of them for the sandbox' : ''})`,
    );
  }
  for (const key of ['clientId', 'clientSecret', 'appKey', 'tenantId'] as const) {
    const value = read(key);
    if (value !== undefined) checkSettingValue(key, value, names[key]);
  }
  const tenantId = read('tenantId');
  return {
    clientId: read('clientId')!,
    clientSecret: read('clientSecret')!,
    appKey: read('appKey')!,
    environment: environmentFromEnv(env, options.prefix ?? 'ST_', options.defaultEnvironment).environment,
    ...(tenantId === undefined ? {} : { tenantId }),
  };
}

/** Where the `ST_*` variables point: a named environment, or `custom` for explicit URLs. */
export interface EnvEnvironment {
  name: ServiceTitanEnvironmentName | 'custom';
  environment: ServiceTitanEnvironmentName | ServiceTitanEnvironment;
  authUrl: string;
  apiUrl: string;
}

/**
 * Where to connect, from `ST_AUTH_URL` + `ST_API_URL` (both, winning over a name) or
 * `ST_ENVIRONMENT`, else the environment the prefix names (`ST_PRODUCTION_`), else
 * `defaultEnvironment`, for programs that take credentials from elsewhere (a vault, one set per
 * tenant). The CLI layers its flags over it. Throws `invalid_config` like
 * {@link clientOptionsFromEnv}, also when the environment is named nowhere: production
 * credentials must never go to integration's token endpoint because a variable was forgotten.
 *
 * @example
 * import { createTenantClients, environmentFromEnv } from 'axios-servicetitan-auth';
 *
 * const tenants = createTenantClients({ environment: environmentFromEnv().environment, appKey, credentials });
 */
export function environmentFromEnv(
  env: Readonly<Record<string, string | undefined>> = process.env,
  prefix = 'ST_',
  defaultEnvironment?: ServiceTitanEnvironmentName,
): EnvEnvironment {
  const names = envVariableNames(prefix);
  const authUrl = nonEmpty(env[names.authUrl]);
  const apiUrl = nonEmpty(env[names.apiUrl]);
  if (authUrl !== undefined || apiUrl !== undefined) {
    if (authUrl === undefined) throw invalidConfig(`${names.apiUrl} needs ${names.authUrl} (the token endpoint) too`);
    if (apiUrl === undefined) throw invalidConfig(`${names.authUrl} needs ${names.apiUrl} (the API origin) too`);
    checkSettingValue('authUrl', authUrl, names.authUrl);
    checkSettingValue('apiUrl', apiUrl, names.apiUrl);
    return { name: 'custom', environment: { authUrl, apiUrl }, authUrl, apiUrl };
  }
  const variable = nonEmpty(env[names.environment]);
  if (variable !== undefined) checkSettingValue('environment', variable, names.environment);
  const name = namedEnvironment(variable as ServiceTitanEnvironmentName | undefined, prefix, defaultEnvironment);
  return { name, environment: name, ...environments[name] };
}

/**
 * The one environment that `<prefix>ENVIRONMENT`, the prefix and `defaultEnvironment` name
 * together. DESIGN: which environment a client uses is never a silent default that differs from
 * what the user named, so two that disagree, or none at all, are `invalid_config`.
 */
function namedEnvironment(
  variable: ServiceTitanEnvironmentName | undefined,
  prefix: string,
  defaultEnvironment: ServiceTitanEnvironmentName | undefined,
): ServiceTitanEnvironmentName {
  const names = envVariableNames(prefix);
  if (defaultEnvironment !== undefined && defaultEnvironment !== 'integration' && defaultEnvironment !== 'production') {
    throw invalidConfig(
      `defaultEnvironment must be "integration" or "production", got ${describe(defaultEnvironment)}`,
    );
  }
  const byPrefix = environmentNamedByPrefix(prefix);
  if (byPrefix !== undefined) {
    if (variable !== undefined && variable !== byPrefix) {
      throw invalidConfig(
        `${names.environment} says ${variable} but the prefix ${prefix} says ${byPrefix}: ` +
          `fix ${names.environment}, or keep ${variable} credentials under a prefix that does not name ${byPrefix}`,
      );
    }
    if (defaultEnvironment !== undefined && defaultEnvironment !== byPrefix) {
      throw invalidConfig(`defaultEnvironment is ${defaultEnvironment} but the prefix ${prefix} says ${byPrefix}`);
    }
  }
  const name = variable ?? byPrefix ?? defaultEnvironment;
  if (name === undefined) {
    throw invalidConfig(
      `${names.environment} is not set: set it to integration or production ` +
        `(or set ${names.authUrl} and ${names.apiUrl}, e.g. as \`npx axios-servicetitan-auth sandbox\` prints them)`,
    );
  }
  return name;
}

// Words that, as a whole segment of the prefix (`ST_PRODUCTION_`, `PROD_ST_`), name an environment.
const PREFIX_WORDS: Readonly<Record<string, ServiceTitanEnvironmentName>> = {
  PRODUCTION: 'production',
  PROD: 'production',
  INTEGRATION: 'integration',
};

/** The environment a prefix names by a segment, or `undefined` when it names none or both. */
export function environmentNamedByPrefix(prefix: string): ServiceTitanEnvironmentName | undefined {
  const named = new Set(
    prefix
      .toUpperCase()
      .split(/[^A-Z0-9]+/)
      .map((segment) => PREFIX_WORDS[segment])
      .filter((name) => name !== undefined),
  );
  return named.size === 1 ? [...named][0] : undefined;
}

/**
 * Throws `invalid_config` when `value` cannot be the setting `key`, naming `source` (the
 * variable, or the CLI's flag) and never the value, not even its first characters: a secret
 * pasted on the wrong line (`ST_ENVIRONMENT=cs1.…`) must not reach a log or a terminal.
 */
export function checkSettingValue(key: VariableKey, value: string, source: string): void {
  switch (key) {
    case 'tenantId':
      if (normalizeTenantId(value) === undefined) {
        throw invalidConfig(`${source} must be a ServiceTitan tenant id: a positive integer of at most 19 digits`);
      }
      return;
    case 'authUrl':
    case 'apiUrl': {
      const checked = checkSecureUrl(value);
      if (!(checked instanceof URL)) throw invalidConfig(`${source} ${checked.problem}`);
      return;
    }
    case 'environment':
      if (value !== 'integration' && value !== 'production') {
        throw invalidConfig(`${source} must be "integration" or "production"`);
      }
      return;
    default:
      if (CONTROL_CHARACTER.test(value)) {
        throw invalidConfig(`${source} contains a line break or another control character: set it to the value alone`);
      }
  }
}

// A credential pasted with the next line, or with a stray carriage return from a Windows file.
// eslint-disable-next-line no-control-regex
const CONTROL_CHARACTER = /[\u0000-\u001f\u007f]/;

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}
