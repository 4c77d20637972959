import { checkSettingValue, environmentFromEnv, envVariableNames } from '../env-options';
import { environments, type ServiceTitanEnvironment, type ServiceTitanEnvironmentName } from '../index';
import { isServiceTitanAuthError } from '../errors';
import { integerFlag, stringFlag, type Flags } from './args';
import { CliError, ExitCode, usageError } from './exit-codes';

/** Everything `check` and `token` need to reach ServiceTitan, from flags then `ST_*` variables. */
export interface ConnectionConfig {
  /** `integration`, `production`, or `custom` for explicit URLs. */
  environmentName: ServiceTitanEnvironmentName | 'custom';
  environment: ServiceTitanEnvironmentName | ServiceTitanEnvironment;
  authUrl: string;
  apiUrl: string;
  clientId: string;
  clientSecret: string;
  appKey: string;
  tenantId: string | undefined;
  /** The time budget of the whole command (token fetch, retries and probe together). */
  timeoutMs: number;
}

/** `--timeout`: what `check` and `token` may take in all, retries included. */
export const DEFAULT_TIMEOUT_MS = 30_000;

/** The environment variables the CLI reads, by what they hold: the library's `clientOptionsFromEnv` names. */
const { tenantId: tenant, ...names } = envVariableNames();
export const ENV = { ...names, tenant } as const;

/**
 * Resolves flags over environment variables. Throws a usage error (exit 2) naming every
 * missing credential with both the flag and the variable that would provide it.
 */
export function resolveConnection(flags: Flags, env: Record<string, string | undefined>): ConnectionConfig {
  // The flag, else the variable; checked like clientOptionsFromEnv does, naming where it came from.
  const read = (key: SettingKey, flag: string, variable: string): string | undefined => {
    const fromFlag = stringFlag(flags, flag);
    const value = fromFlag ?? nonEmpty(env[variable]);
    if (value !== undefined) checkSetting(key, value, fromFlag === undefined ? variable : `--${flag}`);
    return value;
  };
  const clientId = read('clientId', 'client-id', ENV.clientId);
  const clientSecret = read('clientSecret', 'client-secret', ENV.clientSecret);
  const appKey = read('appKey', 'app-key', ENV.appKey);
  const missing = [
    clientId === undefined ? `client id (--client-id or ${ENV.clientId})` : undefined,
    clientSecret === undefined ? `client secret (--client-secret or ${ENV.clientSecret})` : undefined,
    appKey === undefined
      ? `app key (--app-key or ${ENV.appKey}; ServiceTitan refuses every API call without it)`
      : undefined,
  ].filter((entry) => entry !== undefined);
  if (missing.length > 0) {
    throw new CliError(ExitCode.usage, 'missing_credentials', `missing credentials: ${missing.join(', ')}`);
  }
  // Bad values first: a missing environment is named once everything given has been checked.
  const tenantId = read('tenantId', 'tenant', ENV.tenant);
  const timeoutMs = integerFlag(flags, 'timeout', 1, 600_000) ?? DEFAULT_TIMEOUT_MS;
  return {
    ...resolveEnvironment(flags, env),
    clientId: clientId!,
    clientSecret: clientSecret!,
    appKey: appKey!,
    tenantId,
    timeoutMs,
  };
}

type SettingKey = Parameters<typeof checkSettingValue>[0];

/** The library's check of a setting, as a usage error (exit 2) that names the flag or variable. */
function checkSetting(key: SettingKey, value: string, source: string): void {
  try {
    checkSettingValue(key, value, source);
  } catch (error) {
    throw isServiceTitanAuthError(error) ? usageError(error.message) : error;
  }
}

type EnvironmentChoice = Pick<ConnectionConfig, 'environmentName' | 'environment' | 'authUrl' | 'apiUrl'>;

/** Flags win over variables; explicit URLs win over a name; there is no default. */
function resolveEnvironment(flags: Flags, env: Record<string, string | undefined>): EnvironmentChoice {
  const flagName = stringFlag(flags, 'environment');
  const flagAuth = stringFlag(flags, 'auth-url');
  const flagApi = stringFlag(flags, 'api-url');
  if (flagAuth !== undefined || flagApi !== undefined) {
    if (flagName !== undefined) throw usageError('give either --environment or --auth-url/--api-url, not both');
    return customEnvironment(flagAuth, flagApi, '--auth-url', '--api-url');
  }
  if (flagName !== undefined) return namedEnvironment(flagName, '--environment');
  // Never a default (production credentials must not go to integration): say both ways to name it.
  if ([ENV.environment, ENV.authUrl, ENV.apiUrl].every((variable) => nonEmpty(env[variable]) === undefined)) {
    throw usageError(
      `no environment: pass --environment integration or --environment production (or set ${ENV.environment}), ` +
        `or --auth-url and --api-url (${ENV.authUrl} and ${ENV.apiUrl})`,
    );
  }
  // No flag: the variables, read by the same helper as the library's clientOptionsFromEnv.
  try {
    const { name, ...choice } = environmentFromEnv(env);
    return { environmentName: name, ...choice };
  } catch (error) {
    throw isServiceTitanAuthError(error) ? usageError(error.message) : error;
  }
}

function namedEnvironment(name: string, source: string): EnvironmentChoice {
  // The value is not shown: a shifted command line can put a secret here.
  checkSetting('environment', name, source);
  const checked = name as ServiceTitanEnvironmentName;
  return { environmentName: checked, environment: checked, ...environments[checked] };
}

function customEnvironment(
  authUrl: string | undefined,
  apiUrl: string | undefined,
  authSource: string,
  apiSource: string,
): EnvironmentChoice {
  if (authUrl === undefined) throw usageError(`${apiSource} needs ${authSource} (the token endpoint) too`);
  if (apiUrl === undefined) throw usageError(`${authSource} needs ${apiSource} (the API origin) too`);
  checkSetting('authUrl', authUrl, authSource);
  checkSetting('apiUrl', apiUrl, apiSource);
  return { environmentName: 'custom', environment: { authUrl, apiUrl }, authUrl, apiUrl };
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}
