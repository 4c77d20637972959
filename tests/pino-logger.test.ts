import { Writable } from 'node:stream';
import pino from 'pino';
import { createServiceTitanClient, pinoLogger, tokenFingerprint } from '../src';
import { authOptions, customersPath, useSandbox } from './helpers/sandbox';

/** A real pino logger writing JSON lines into an array. */
function capturingPino() {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) {
        lines.push(JSON.parse(line) as Record<string, unknown>);
      }
      done();
    },
  });
  return { log: pino({ level: 'debug' }, stream), lines };
}

describe('pinoLogger: the adapter for pino (details first, message second)', () => {
  const sandbox = useSandbox();

  test('fetches, renewals and replays become structured lines at their level, tokens only as fingerprints', async () => {
    const { log, lines } = capturingPino();
    const client = createServiceTitanClient(
      authOptions(sandbox(), { logger: pinoLogger(log.child({ module: 'servicetitan' })) }),
    );
    await client.get(customersPath(sandbox()));
    const first = await client.auth.getToken();
    sandbox().revokeAllTokens();
    await client.get(customersPath(sandbox()));
    const second = await client.auth.getToken();
    expect(sandbox().token.count).toBe(2);

    const obtained = lines.filter((line) => line['msg'] === 'token obtained');
    expect(obtained).toHaveLength(2);
    expect(obtained[0]).toMatchObject({ level: 30, module: 'servicetitan' });
    expect(JSON.stringify(obtained[0])).toContain(tokenFingerprint(first));
    expect(lines.some((line) => line['level'] === 20 && line['msg'] === 'requesting a token')).toBe(true);
    expect(lines.some((line) => line['msg'] === 'token rejected by the API; renewing')).toBe(true);
    const text = JSON.stringify(lines);
    for (const secret of [first, second, sandbox().clientSecret, sandbox().appKey]) expect(text).not.toContain(secret);
  });

  test('a failed token fetch is an error line with its code', async () => {
    const { log, lines } = capturingPino();
    const client = createServiceTitanClient(
      authOptions(sandbox(), { clientSecret: 'wrong-secret', logger: pinoLogger(log) }),
    );
    await expect(client.auth.getToken()).rejects.toMatchObject({ code: 'invalid_client' });
    expect(lines.find((line) => line['msg'] === 'token request failed')).toMatchObject({
      level: 50,
      code: 'invalid_client',
    });
    expect(JSON.stringify(lines)).not.toContain('wrong-secret');
  });
});
