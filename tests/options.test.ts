import axios from 'axios';
import {
  ServiceTitanAuthError,
  attachServiceTitanAuth,
  createServiceTitanClient,
  environments,
  isServiceTitanAuthError,
  type ServiceTitanAuthOptions,
} from '../src';

const valid: ServiceTitanAuthOptions = {
  clientId: 'cid.example',
  clientSecret: 'cs1.super-secret-value',
  appKey: 'ak1.app-key',
  environment: 'integration',
};

/** `valid` with one option set, by its dotted path (`tokenRequest.retries`). */
function withOption(path: string, value: unknown): ServiceTitanAuthOptions {
  const [group, field] = path.split('.') as [string, string | undefined];
  return { ...valid, [group]: field === undefined ? value : { [field]: value } } as ServiceTitanAuthOptions;
}

function attachError(options: unknown): ServiceTitanAuthError {
  try {
    attachServiceTitanAuth(axios.create(), options as ServiceTitanAuthOptions);
  } catch (error) {
    expect(isServiceTitanAuthError(error)).toBe(true);
    expect((error as ServiceTitanAuthError).code).toBe('invalid_config');
    expect((error as Error).message).not.toContain('super-secret-value');
    return error as ServiceTitanAuthError;
  }
  throw new Error('attach did not throw');
}

describe('G10: bad options fail at attach time, naming the option', () => {
  test.each([
    ['clientId missing', { ...valid, clientId: undefined }, /clientId/],
    ['clientId empty', { ...valid, clientId: '' }, /clientId must be a non-empty string/],
    ['clientId blank', { ...valid, clientId: '   ' }, /clientId/],
    ['clientSecret missing', { ...valid, clientSecret: undefined }, /clientSecret/],
    ['clientSecret a number', { ...valid, clientSecret: 42 }, /clientSecret/],
    [
      'unknown environment',
      { ...valid, environment: 'staging' },
      /environment must be 'integration', 'production'.*"staging"/,
    ],
    ['environment missing', { ...valid, environment: undefined }, /environment/],
    [
      'malformed authUrl',
      { ...valid, environment: { authUrl: 'not a url', apiUrl: 'https://a.example' } },
      /environment.authUrl is not a valid absolute URL/,
    ],
    [
      'relative apiUrl',
      { ...valid, environment: { authUrl: 'https://a.example/t', apiUrl: '/api' } },
      /environment.apiUrl/,
    ],
    [
      'http authUrl on a public host',
      {
        ...valid,
        environment: { authUrl: 'http://auth.example.com/connect/token', apiUrl: 'https://api.example.com' },
      },
      /environment.authUrl must use https:/,
    ],
    [
      'http apiUrl on a public host',
      { ...valid, environment: { authUrl: 'https://a.example/t', apiUrl: 'http://10.0.0.5' } },
      /environment.apiUrl must use https:/,
    ],
    [
      'credentials in a URL',
      { ...valid, environment: { authUrl: 'https://u:p@a.example/t', apiUrl: 'https://a.example' } },
      /must not contain credentials/,
    ],
    ['appKey missing', { ...valid, appKey: undefined }, /appKey must be a non-empty string, got undefined/],
    ['empty appKey', { ...valid, appKey: '' }, /appKey/],
    ['blank appKey', { ...valid, appKey: '  ' }, /appKey/],
    [
      'negative refreshBufferMs',
      { ...valid, refreshBufferMs: -1 },
      /^refreshBufferMs must be a finite number >= 0, got -1$/,
    ],
    ['non-numeric refreshBufferMs', { ...valid, refreshBufferMs: '60' }, /^refreshBufferMs.*got a string/],
    ['tokenRequest not an object', { ...valid, tokenRequest: 5 }, /^tokenRequest must be an object, got 5$/],
    ['tokenRequest an array', { ...valid, tokenRequest: [] }, /^tokenRequest must be an object/],
    ['NaN tokenRequest.timeoutMs', { ...valid, tokenRequest: { timeoutMs: Number.NaN } }, /^tokenRequest\.timeoutMs /],
    ['zero tokenRequest.timeoutMs', { ...valid, tokenRequest: { timeoutMs: 0 } }, /^tokenRequest\.timeoutMs must be/],
    [
      'fractional tokenRequest.retries',
      { ...valid, tokenRequest: { retries: 1.5 } },
      /^tokenRequest\.retries must be an integer >= 0, got 1\.5$/,
    ],
    [
      'Infinity tokenRequest.maxRetryAfterMs',
      { ...valid, tokenRequest: { maxRetryAfterMs: Infinity } },
      /^tokenRequest\.maxRetryAfterMs must be/,
    ],
    [
      'tokenRequest.limiter not a function',
      { ...valid, tokenRequest: { limiter: 4 } },
      /^tokenRequest\.limiter must be a p-limit function/,
    ],
    [
      'http allowedOrigins on a public host',
      { ...valid, allowedOrigins: ['http://proxy.example.com'] },
      /allowedOrigins\[0\] must use https:/,
    ],
    [
      'allowedOrigins not an array',
      { ...valid, allowedOrigins: 'https://x.example' },
      /allowedOrigins must be an array/,
    ],
    ['renewOnStatus with 200', { ...valid, renewOnStatus: [200] }, /renewOnStatus/],
    ['store without methods', { ...valid, store: {} }, /store must implement the TokenStore interface/],
    ['logger not an object', { ...valid, logger: 'console' }, /logger/],
    ['options not an object', null, /options must be an object/],
  ])('%s', (_name, options, message) => {
    expect(attachError(options).message).toMatch(message);
  });

  // Node clamps a longer timer delay to 1 ms: every token fetch would "time out" at once.
  test.each([
    'refreshBufferMs',
    'tokenRequest.timeoutMs',
    'tokenRequest.retryDelayMs',
    'tokenRequest.maxRetryAfterMs',
    'tokenRequest.rateLimitedCooldownMs',
    'tokenRequest.failureCooldownMs',
    'tokenRequest.maxInvalidClientCooldownMs',
    'tokenRequest.fleetWaitMs',
    'renewalCooldownMs',
  ])('%s above 2^31 - 1 ms is invalid_config naming the option and the limit', (name) => {
    expect(attachError(withOption(name, 2_147_483_648)).message).toBe(
      `${name} must be at most 2147483647 ms (2^31 - 1 ms, the longest delay Node's timers support), got 2147483648`,
    );
    expect(() => attachServiceTitanAuth(axios.create(), withOption(name, 2_147_483_647))).not.toThrow();
  });

  test('refreshBufferSeconds (deprecated) above (2^31 - 1) / 1000 s is invalid_config in seconds, under its own name', () => {
    expect(attachError({ ...valid, refreshBufferSeconds: 2_147_484 }).message).toMatch(
      /^refreshBufferSeconds must be at most 2147483.647 s \(2\^31 - 1 ms.*got 2147484$/,
    );
    expect(() => attachServiceTitanAuth(axios.create(), { ...valid, refreshBufferSeconds: 2_147_483 })).not.toThrow();
  });

  test('the derived tokenRequest.fleetWaitMs default is capped at 2^31 - 1 ms, not refused', () => {
    expect(() =>
      attachServiceTitanAuth(axios.create(), { ...valid, tokenRequest: { timeoutMs: 2_147_483_647, retries: 2 } }),
    ).not.toThrow();
  });

  test.each(['retryDelayMs', 'maxRetryAfterMs'])(
    'retry.%s above 2^31 - 1 ms is invalid_config naming the option',
    (name) => {
      const create = (ms: number) => () => createServiceTitanClient({ ...valid, retry: { [name]: ms } });
      expect(create(2_147_483_648)).toThrow(new RegExp(`^retry\\.${name} must be at most 2147483647 ms`));
      expect(create(2_147_483_647)).not.toThrow();
    },
  );

  test('http: is accepted on loopback hosts (the sandbox)', () => {
    for (const host of ['127.0.0.1:8080', '127.5.6.7', 'localhost:3000', '[::1]:4000']) {
      expect(() =>
        attachServiceTitanAuth(axios.create(), {
          ...valid,
          environment: { authUrl: `http://${host}/connect/token`, apiUrl: `http://${host}` },
        }),
      ).not.toThrow();
    }
  });

  test('a second attach to the same instance is refused; after detach it is allowed again', () => {
    const instance = axios.create();
    const auth = attachServiceTitanAuth(instance, valid);
    expect(() => attachServiceTitanAuth(instance, valid)).toThrow(/already has ServiceTitan auth attached/);
    auth.detach();
    expect(() => attachServiceTitanAuth(instance, valid)).not.toThrow();
  });

  test('attach needs an axios instance', () => {
    expect(() => attachServiceTitanAuth({} as never, valid)).toThrow(ServiceTitanAuthError);
  });

  test('createServiceTitanClient validates tenantId and axios', () => {
    expect(() => createServiceTitanClient({ ...valid, tenantId: '12/../34' })).toThrow(/tenantId/);
    expect(() => createServiceTitanClient({ ...valid, tenantId: -3 })).toThrow(/tenantId/);
    // ServiceTitan tenant ids are int64: digits only, positive, within range.
    for (const bad of ['abc', 'tenant-1', '0', '007', ' 12', '12 ', '9223372036854775808', '', 0, 1.5, 2 ** 53]) {
      expect(() => createServiceTitanClient({ ...valid, tenantId: bad })).toThrow(
        /tenantId must be a positive integer/,
      );
    }
    for (const good of ['1', '9223372036854775807', 1, Number.MAX_SAFE_INTEGER]) {
      expect(() => createServiceTitanClient({ ...valid, tenantId: good })).not.toThrow();
    }
    expect(() => createServiceTitanClient({ ...valid, axios: 'x' as never })).toThrow(/axios must be an object/);
  });

  test('environments hold the documented URLs', () => {
    expect(environments.integration).toEqual({
      authUrl: 'https://auth-integration.servicetitan.io/connect/token',
      apiUrl: 'https://api-integration.servicetitan.io',
    });
    expect(environments.production).toEqual({
      authUrl: 'https://auth.servicetitan.io/connect/token',
      apiUrl: 'https://api.servicetitan.io',
    });
    expect(Object.isFrozen(environments.production)).toBe(true);
  });
});
