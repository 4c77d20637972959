import {
  clientOptionsFromEnv,
  createServiceTitanClient,
  environmentFromEnv,
  environments,
  ServiceTitanAuthError,
} from '../src';
import { sandboxEnvironment } from '../src/cli/sandbox';
import { BAD_VALUES, SECRET } from './helpers/misplaced-secrets';
import { useSandbox } from './helpers/sandbox';

const credentials = { ST_CLIENT_ID: 'cid', ST_CLIENT_SECRET: 'very-secret-value', ST_APP_KEY: 'ak.secret-key' };

function configError(read: () => unknown): ServiceTitanAuthError {
  try {
    read();
  } catch (error) {
    expect(error).toBeInstanceOf(ServiceTitanAuthError);
    expect((error as ServiceTitanAuthError).code).toBe('invalid_config');
    return error as ServiceTitanAuthError;
  }
  throw new Error('expected an invalid_config error');
}

describe('clientOptionsFromEnv: the ST_* variables, read one way', () => {
  const sandbox = useSandbox();

  test('the variables the sandbox command prints reach that sandbox, not ServiceTitan', async () => {
    const env = { ...sandboxEnvironment(sandbox()), ST_ENVIRONMENT: 'production' };
    const client = createServiceTitanClient(clientOptionsFromEnv({ env, requireTenantId: true }));
    const { data } = await client.get<{ data: unknown[] }>('/crm/v2/tenant/{tenant}/customers');
    expect(data.data.length).toBeGreaterThan(0);
    expect(sandbox().token.count).toBe(1);
    expect(sandbox().api.requests.map((r) => r.status)).toEqual([200]);
  });

  test('ST_ENVIRONMENT=production picks production, integration integration; values are trimmed', () => {
    const options = clientOptionsFromEnv({
      env: { ...credentials, ST_ENVIRONMENT: ' production ', ST_TENANT_ID: '42' },
    });
    expect(options.environment).toBe('production');
    expect(options.tenantId).toBe('42');
    expect(clientOptionsFromEnv({ env: { ...credentials, ST_ENVIRONMENT: 'integration' } })).toEqual({
      clientId: 'cid',
      clientSecret: 'very-secret-value',
      appKey: 'ak.secret-key',
      environment: 'integration',
    });
  });

  test('half-set credentials throw naming every missing variable and no value', () => {
    const error = configError(() =>
      clientOptionsFromEnv({ env: { ST_CLIENT_SECRET: 'very-secret-value', ST_APP_KEY: ' ' }, optional: true }),
    );
    expect(error.message).toContain('ST_CLIENT_ID, ST_APP_KEY');
    expect(error.message).not.toContain('very-secret-value');
    expect(configError(() => clientOptionsFromEnv({ env: credentials, requireTenantId: true })).message).toContain(
      'missing environment variable ST_TENANT_ID',
    );
  });

  test('optional: nothing set gives undefined; a lone ST_ENVIRONMENT is not nothing', () => {
    expect(clientOptionsFromEnv({ env: {}, optional: true })).toBeUndefined();
    expect(clientOptionsFromEnv({ env: { ST_CLIENT_ID: '' }, optional: true })).toBeUndefined();
    expect(() => clientOptionsFromEnv({ env: {} })).toThrow(/ST_CLIENT_ID, ST_CLIENT_SECRET, ST_APP_KEY/);
    expect(() => clientOptionsFromEnv({ env: { ST_ENVIRONMENT: 'production' }, optional: true })).toThrow(
      /missing environment variables ST_CLIENT_ID/,
    );
  });

  test('ST_AUTH_URL and ST_API_URL come as a pair and win over ST_ENVIRONMENT', () => {
    const urls = { ST_AUTH_URL: 'https://auth.example/connect/token', ST_API_URL: 'https://api.example' };
    expect(
      clientOptionsFromEnv({ env: { ...credentials, ...urls, ST_ENVIRONMENT: 'production' } }).environment,
    ).toEqual({
      authUrl: urls.ST_AUTH_URL,
      apiUrl: urls.ST_API_URL,
    });
    expect(
      configError(() => clientOptionsFromEnv({ env: { ...credentials, ST_AUTH_URL: urls.ST_AUTH_URL } })).message,
    ).toBe('ST_AUTH_URL needs ST_API_URL (the API origin) too');
    expect(
      configError(() => clientOptionsFromEnv({ env: { ...credentials, ST_API_URL: urls.ST_API_URL } })).message,
    ).toBe('ST_API_URL needs ST_AUTH_URL (the token endpoint) too');
    expect(
      configError(() => clientOptionsFromEnv({ env: { ...credentials, ST_ENVIRONMENT: 'staging' } })).message,
    ).toBe('ST_ENVIRONMENT must be "integration" or "production"');
  });

  test('a prefix reads another set, e.g. ST_PRODUCTION_*', () => {
    const env = {
      ST_PRODUCTION_CLIENT_ID: 'p-cid',
      ST_PRODUCTION_CLIENT_SECRET: 'p-secret',
      ST_PRODUCTION_APP_KEY: 'p-key',
      ST_PRODUCTION_ENVIRONMENT: 'production',
    };
    const options = clientOptionsFromEnv({ env, prefix: 'ST_PRODUCTION_' });
    expect(options).toMatchObject({ clientId: 'p-cid', environment: 'production' });
    expect(environments[options.environment as 'production'].apiUrl).toBe('https://api.servicetitan.io');
    expect(clientOptionsFromEnv({ env, prefix: 'ST_INTEGRATION_', optional: true })).toBeUndefined();
  });
});

describe('clientOptionsFromEnv: no silent environment (issue 19 item 3)', () => {
  const production = {
    ST_PRODUCTION_CLIENT_ID: 'p-cid',
    ST_PRODUCTION_CLIENT_SECRET: 'p-secret',
    ST_PRODUCTION_APP_KEY: 'p-key',
  };

  test('production credentials under ST_PRODUCTION_ go to production without ST_PRODUCTION_ENVIRONMENT', () => {
    const options = clientOptionsFromEnv({ env: production, prefix: 'ST_PRODUCTION_' });
    expect(options.environment).toBe('production');
    expect(environmentFromEnv(production, 'ST_PRODUCTION_').authUrl).toBe(environments.production.authUrl);
    // A segment anywhere in the prefix, in any case; PROD is production too.
    for (const prefix of ['PROD_ST_', 'st_prod_', 'ACME_PRODUCTION_ST_']) {
      expect(environmentFromEnv({}, prefix).name).toBe('production');
    }
    const integration = {
      ST_INTEGRATION_CLIENT_ID: 'i',
      ST_INTEGRATION_CLIENT_SECRET: 's',
      ST_INTEGRATION_APP_KEY: 'k',
    };
    expect(clientOptionsFromEnv({ env: integration, prefix: 'ST_INTEGRATION_' }).environment).toBe('integration');
  });

  test('a prefix and a variable that disagree are invalid_config naming both', () => {
    const error = configError(() =>
      clientOptionsFromEnv({
        env: { ...production, ST_PRODUCTION_ENVIRONMENT: 'integration' },
        prefix: 'ST_PRODUCTION_',
      }),
    );
    expect(error.message).toBe(
      'ST_PRODUCTION_ENVIRONMENT says integration but the prefix ST_PRODUCTION_ says production: ' +
        'fix ST_PRODUCTION_ENVIRONMENT, or keep integration credentials under a prefix that does not name production',
    );
    expect(
      configError(() => environmentFromEnv({ ST_INTEGRATION_ENVIRONMENT: 'production' }, 'ST_INTEGRATION_')).message,
    ).toMatch(/^ST_INTEGRATION_ENVIRONMENT says production but the prefix ST_INTEGRATION_ says integration/);
    expect(
      configError(() =>
        clientOptionsFromEnv({ env: production, prefix: 'ST_PRODUCTION_', defaultEnvironment: 'integration' }),
      ).message,
    ).toBe('defaultEnvironment is integration but the prefix ST_PRODUCTION_ says production');
    // Agreeing is fine, and explicit URLs (a custom environment) need no name.
    expect(
      clientOptionsFromEnv({
        env: { ...production, ST_PRODUCTION_ENVIRONMENT: 'production' },
        prefix: 'ST_PRODUCTION_',
      }).environment,
    ).toBe('production');
  });

  test('named nowhere is invalid_config naming the variable to set, never a value', () => {
    for (const [prefix, variable] of [
      [undefined, 'ST_ENVIRONMENT'],
      ['ACME_', 'ACME_ENVIRONMENT'],
      // Both words: the prefix names nothing unambiguously.
      ['ST_PRODUCTION_INTEGRATION_', 'ST_PRODUCTION_INTEGRATION_ENVIRONMENT'],
    ] as const) {
      const p = prefix ?? 'ST_';
      const env = {
        [`${p}CLIENT_ID`]: 'cid',
        [`${p}CLIENT_SECRET`]: 'very-secret-value',
        [`${p}APP_KEY`]: 'ak.secret-key',
      };
      const error = configError(() => clientOptionsFromEnv({ env, ...(prefix === undefined ? {} : { prefix }) }));
      expect(error.message).toMatch(new RegExp(`^${variable} is not set: set it to integration or production `));
      expect(error.message).not.toMatch(/very-secret-value|secret-key|cid/);
      expect(configError(() => environmentFromEnv(env, p)).message).toBe(error.message);
    }
  });

  test('defaultEnvironment, given explicitly, names it; a bad one is invalid_config', () => {
    expect(clientOptionsFromEnv({ env: credentials, defaultEnvironment: 'production' }).environment).toBe('production');
    expect(
      clientOptionsFromEnv({ env: { ...credentials, ST_ENVIRONMENT: 'integration' }, defaultEnvironment: 'production' })
        .environment,
    ).toBe('integration');
    expect(
      configError(() =>
        clientOptionsFromEnv({ env: credentials, defaultEnvironment: 'staging' as unknown as 'production' }),
      ).message,
    ).toBe('defaultEnvironment must be "integration" or "production", got a string');
  });
});

describe('clientOptionsFromEnv: bad values are named by variable, never shown', () => {
  const good = {
    CLIENT_ID: 'cid.good',
    CLIENT_SECRET: 'cs1.good',
    APP_KEY: 'ak1.good',
    TENANT_ID: '42',
    AUTH_URL: 'https://auth.example/connect/token',
    API_URL: 'https://api.example',
  };

  test.each(BAD_VALUES)('ST_PRODUCTION_%s, bad value %#', (suffix, value) => {
    const env = Object.fromEntries(
      Object.entries({ ...good, [suffix]: value }).map(([name, v]) => [`ST_PRODUCTION_${name}`, v]),
    );
    // ST_ENVIRONMENT is read only without the URL pair.
    if (suffix === 'ENVIRONMENT') {
      delete env['ST_PRODUCTION_AUTH_URL'];
      delete env['ST_PRODUCTION_API_URL'];
    }
    const error = configError(() => clientOptionsFromEnv({ env, prefix: 'ST_PRODUCTION_' }));
    expect(error.message).toMatch(new RegExp(`^ST_PRODUCTION_${suffix} `));
    // No part of the value: not its first characters, not the secret in the middle of a URL.
    for (const part of [SECRET, SECRET.slice(0, 4), SECRET.slice(4, 10), 'cs1', 'example']) {
      expect(error.message).not.toContain(part);
    }
    expect(JSON.stringify(error)).not.toContain(SECRET.slice(4, 10));
  });
});
