import axios from 'axios';
import { attachServiceTitanAuth, createServiceTitanClient, ServiceTitanAuthError } from '../src';
import { axiosRuntime, configuredProxy, judgeAxiosVersion, MIN_SAFE_AXIOS_VERSION } from '../src/axios-version';
import { recordingLogger } from './helpers/logger';
import { startRecordingProxy, type RecordingProxy } from './helpers/recording-proxy';
import { authOptions, customersPath, useSandbox } from './helpers/sandbox';

/**
 * Issue 17 item 7: with `npm install --legacy-peer-deps` an axios older than 1.16.1 can run
 * despite the peer range, and sends the client secret in clear to an `HTTPS_PROXY`. Attach reads
 * the running version: refused behind a proxy, a warning otherwise.
 */
describe('judgeAxiosVersion: refuse behind a proxy, warn without one', () => {
  test.each(['1.16.1', '1.16.2', '1.21.1', '1.100.0', '2.0.0', 'v1.16.1'])('%s is fine, proxy or not', (version) => {
    expect(judgeAxiosVersion(version, 'HTTPS_PROXY')).toEqual({ verdict: 'ok' });
    expect(judgeAxiosVersion(version, undefined)).toEqual({ verdict: 'ok' });
  });

  test.each(['1.16.0', '1.15.9', '1.7.9', '0.30.0', '1.9.100'])('%s is refused behind a proxy', (version) => {
    const judged = judgeAxiosVersion(version, 'HTTPS_PROXY');
    expect(judged.verdict).toBe('refuse');
    const message = (judged as { message: string }).message;
    expect(message).toContain(`axios ${version}`);
    expect(message).toContain('HTTPS_PROXY');
    expect(message).toContain(`upgrade axios to >= ${MIN_SAFE_AXIOS_VERSION}`);
    expect(judgeAxiosVersion(version, undefined)).toEqual({
      verdict: 'warn',
      message: expect.stringContaining('upgrade axios'),
    });
  });

  test.each([undefined, '', 'next', 42])('an unreadable version (%p) counts as old', (version) => {
    expect(judgeAxiosVersion(version, 'HTTP_PROXY').verdict).toBe('refuse');
    expect(judgeAxiosVersion(version, undefined).verdict).toBe('warn');
  });
});

describe('configuredProxy: any proxy variable, either case, or a proxy default; never its value', () => {
  const secretUrl = 'http://user:pa55word@proxy.example:3128';

  test.each([
    'HTTPS_PROXY',
    'https_proxy',
    'HTTP_PROXY',
    'http_proxy',
    'ALL_PROXY',
    'all_proxy',
    'npm_config_https_proxy',
  ])('%s', (variable) => {
    expect(configuredProxy({ [variable]: secretUrl }, {})).toBe(variable);
  });

  test('blank variables, no variables, and proxy: false are no proxy', () => {
    expect(configuredProxy({ HTTPS_PROXY: ' ', NO_PROXY: '*' }, { proxy: false })).toBeUndefined();
    expect(configuredProxy({}, {})).toBeUndefined();
  });

  test("a proxy in the instance's defaults", () => {
    const where = configuredProxy({}, { proxy: { protocol: 'http', host: 'proxy.example', port: 3128 } });
    expect(where).toBe("the instance's proxy default");
  });

  test('a variable wins even when the instance says proxy: false (the token request reads the variables)', () => {
    expect(configuredProxy({ https_proxy: secretUrl }, { proxy: false })).toBe('https_proxy');
  });
});

describe('at attach: the version axios runs (seam: axiosRuntime.version)', () => {
  const sandbox = useSandbox();
  let proxy: RecordingProxy;
  const saved = { ...process.env };
  const PROXY_NAMES = ['HTTPS_PROXY', 'https_proxy', 'HTTP_PROXY', 'http_proxy', 'ALL_PROXY', 'all_proxy'];

  beforeAll(async () => {
    proxy = await startRecordingProxy();
  });
  afterAll(() => proxy.close());
  beforeEach(() => {
    for (const name of PROXY_NAMES) delete process.env[name];
  });
  afterEach(() => {
    jest.restoreAllMocks();
    for (const name of PROXY_NAMES) {
      if (saved[name] === undefined) delete process.env[name];
      else process.env[name] = saved[name];
    }
  });

  function refusal(run: () => unknown): ServiceTitanAuthError {
    try {
      run();
    } catch (error) {
      return error as ServiceTitanAuthError;
    }
    throw new Error('expected a refusal');
  }

  test('axios 1.16.0 behind HTTPS_PROXY: both entry points refuse, and nothing reaches the proxy', async () => {
    jest.spyOn(axiosRuntime, 'version').mockReturnValue('1.16.0');
    process.env['HTTPS_PROXY'] = proxy.url;
    for (const error of [
      refusal(() => createServiceTitanClient(authOptions(sandbox()))),
      refusal(() => attachServiceTitanAuth(axios.create(), authOptions(sandbox()))),
    ]) {
      expect(error).toBeInstanceOf(ServiceTitanAuthError);
      expect(error.code).toBe('invalid_config');
      expect(error.message).toContain('axios 1.16.0');
      expect(error.message).toContain('HTTPS_PROXY');
      expect(error.message).toContain('upgrade axios to >= 1.16.1');
      expect(error.message).not.toContain(proxy.url);
    }
    expect(proxy.received()).toEqual([]);
    expect(sandbox().token.count).toBe(0);
  });

  test("axios 1.16.0 with a proxy in the instance's defaults: refused", () => {
    jest.spyOn(axiosRuntime, 'version').mockReturnValue('1.16.0');
    const instance = axios.create({ proxy: { protocol: 'http', host: '127.0.0.1', port: 9 } });
    const error = refusal(() => attachServiceTitanAuth(instance, authOptions(sandbox())));
    expect(error.code).toBe('invalid_config');
    expect(error.message).toContain("the instance's proxy default");
  });

  test('axios 1.16.0 without a proxy: works, with one ServiceTitanAuthWarning per process', async () => {
    jest.spyOn(axiosRuntime, 'version').mockReturnValue('1.16.0');
    const warnings: unknown[][] = [];
    jest.spyOn(process, 'emitWarning').mockImplementation((...args: unknown[]) => {
      warnings.push(args);
    });
    const clients = [
      createServiceTitanClient(authOptions(sandbox())),
      createServiceTitanClient(authOptions(sandbox())),
    ];
    attachServiceTitanAuth(axios.create(), authOptions(sandbox()));
    for (const client of clients) expect((await client.get(customersPath(sandbox()))).status).toBe(200);
    expect(sandbox().api.count).toBe(2);
    expect(warnings).toEqual([
      [
        expect.stringContaining('axios 1.16.0 sends https requests to an http:// proxy in clear text'),
        { type: 'ServiceTitanAuthWarning', code: 'ST_AUTH_OLD_AXIOS' },
      ],
    ]);
  });

  test('axios 1.16.0 without a proxy and with a logger: logger.warn, nothing printed', () => {
    jest.spyOn(axiosRuntime, 'version').mockReturnValue('1.16.0');
    const emitWarning = jest.spyOn(process, 'emitWarning').mockImplementation(() => {});
    const { logger, lines } = recordingLogger();
    createServiceTitanClient(authOptions(sandbox(), { logger }));
    expect(lines).toEqual([
      expect.objectContaining({ level: 'warn', message: expect.stringContaining('upgrade axios to >= 1.16.1') }),
    ]);
    expect(emitWarning).not.toHaveBeenCalled();
  });

  test('the axios installed here (>= 1.16.1) behind HTTPS_PROXY: attach goes ahead, no warning', () => {
    expect(judgeAxiosVersion(axios.VERSION, 'HTTPS_PROXY')).toEqual({ verdict: 'ok' });
    const emitWarning = jest.spyOn(process, 'emitWarning').mockImplementation(() => {});
    process.env['HTTPS_PROXY'] = proxy.url;
    expect(() => createServiceTitanClient(authOptions(sandbox()))).not.toThrow();
    expect(emitWarning).not.toHaveBeenCalled();
  });
});
