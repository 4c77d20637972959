import createDebug from 'debug';
import { createServiceTitanClient, debugLogger, tokenFingerprint } from '../src';
import { authOptions, customersPath, useSandbox } from './helpers/sandbox';

describe('debugLogger: the adapter for the debug package', () => {
  const sandbox = useSandbox();
  const output: string[] = [];
  const originalLog = createDebug.log;
  beforeEach(() => {
    output.length = 0;
    createDebug.enable('axios-servicetitan-auth:*');
    createDebug.log = (...args: unknown[]) => output.push(args.map(String).join(' '));
  });
  afterEach(() => {
    createDebug.disable();
    createDebug.log = originalLog;
  });

  test('logs fetches, renewals and replays under its namespaces, tokens only as fingerprints', async () => {
    const client = createServiceTitanClient(authOptions(sandbox(), { logger: debugLogger(createDebug) }));
    await client.get(customersPath(sandbox()));
    const first = await client.auth.getToken();
    sandbox().revokeAllTokens();
    await client.get(customersPath(sandbox()));
    const second = await client.auth.getToken();

    const text = output.join('\n');
    expect(text).toMatch(/axios-servicetitan-auth:debug .*requesting a token/);
    expect(text).toMatch(/axios-servicetitan-auth:info .*token obtained/);
    expect(text).toMatch(/axios-servicetitan-auth:info .*token rejected by the API; renewing/);
    expect(text).toMatch(/axios-servicetitan-auth:debug .*replaying request after token renewal/);
    expect(text).toContain(tokenFingerprint(first));
    for (const secret of [first, second, sandbox().clientSecret, sandbox().appKey]) expect(text).not.toContain(secret);
  });

  test('a custom namespace', async () => {
    const client = createServiceTitanClient(authOptions(sandbox(), { logger: debugLogger(createDebug, 'my-sync') }));
    createDebug.enable('my-sync:*');
    await client.auth.getToken();
    expect(output.join('\n')).toMatch(/my-sync:info .*token obtained/);
  });
});
