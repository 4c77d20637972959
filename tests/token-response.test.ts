import { MemoryTokenStore, createServiceTitanClient, type StoredToken } from '../src';
import { DEFAULT_TOKEN_LIFETIME_SECONDS, MAX_TOKEN_LIFETIME_SECONDS } from '../src/token/token-response';
import { recordingLogger } from './helpers/logger';
import { authOptions, useFakeClock, useSandbox } from './helpers/sandbox';

/** A MemoryTokenStore that keeps every token it was given, to read the expiry the library chose. */
class RecordingStore extends MemoryTokenStore {
  readonly saved: StoredToken[] = [];

  override async set(key: string, token: StoredToken): Promise<void> {
    this.saved.push({ ...token });
    await super.set(key, token);
  }
}

const lifetimeMs = (token: StoredToken | undefined) => token!.expiresAt - token!.obtainedAt;

describe('expires_in policy', () => {
  const sandbox = useSandbox();
  const clock = useFakeClock();

  test('absent: ServiceTitan documents 900 s, so 900 s is assumed, with one warning per handle', async () => {
    const store = new RecordingStore();
    const { logger, lines } = recordingLogger();
    const client = createServiceTitanClient(authOptions(sandbox(), { store, logger }));
    sandbox().token.enqueue({ status: 200, body: { access_token: 'opaque-1', token_type: 'Bearer' }, times: 2 });
    await client.auth.getToken();
    await client.auth.getToken({ forceRefresh: true });
    expect(store.saved.map(lifetimeMs)).toEqual([900_000, 900_000]);
    expect(DEFAULT_TOKEN_LIFETIME_SECONDS).toBe(900);
    const warnings = lines.filter((l) => l.level === 'warn');
    expect(warnings.map((l) => l.message)).toEqual(['the token endpoint sent no "expires_in": assuming 900 s']);
    // The assumed lifetime is the one used: kept for its first 840 s, gone after 900 s.
    clock.advance(839_000);
    await client.auth.getToken();
    expect(sandbox().token.count).toBe(2);
    clock.advance(61_001);
    await client.auth.getToken();
    expect(sandbox().token.count).toBe(3);
  });

  test.each([
    ['1e13 s (past the end of JavaScript dates)', 1e13],
    ['one year', 365 * 86_400],
    ['Number.MAX_VALUE', Number.MAX_VALUE],
  ])('absurdly large (%s): clamped to 24 h with a warning', async (_name, expiresIn) => {
    const store = new RecordingStore();
    const { logger, lines } = recordingLogger();
    const client = createServiceTitanClient(authOptions(sandbox(), { store, logger }));
    sandbox().token.enqueue({
      status: 200,
      body: { access_token: 'opaque', token_type: 'Bearer', expires_in: expiresIn },
    });
    await expect(client.auth.getToken()).resolves.toBe('opaque');
    expect(lifetimeMs(store.saved[0])).toBe(MAX_TOKEN_LIFETIME_SECONDS * 1000);
    expect(new Date(store.saved[0]!.expiresAt).toISOString()).toEqual(expect.any(String));
    expect(lines.filter((l) => l.level === 'warn').map((l) => l.message)).toEqual([
      'the token endpoint sent an implausible "expires_in": using 86400 s',
    ]);
  });

  test("24 h exactly and ServiceTitan's 900 s are used as sent, without a warning", async () => {
    const store = new RecordingStore();
    const { logger, lines } = recordingLogger();
    const client = createServiceTitanClient(authOptions(sandbox(), { store, logger }));
    sandbox().token.enqueue({ status: 200, body: { access_token: 'a', token_type: 'Bearer', expires_in: 86_400 } });
    await client.auth.getToken();
    await client.auth.getToken({ forceRefresh: true });
    expect(store.saved.map(lifetimeMs)).toEqual([86_400_000, 900_000]);
    expect(lines.filter((l) => l.level === 'warn')).toEqual([]);
  });

  test.each([
    ['0 (already expired: every request would fetch a token)', 0],
    ['null', null],
    ['NaN-like string', 'NaN'],
  ])('expires_in %s is invalid_token_response, nothing cached', async (_name, expiresIn) => {
    const store = new RecordingStore();
    const client = createServiceTitanClient(authOptions(sandbox(), { store }));
    sandbox().token.enqueue({ status: 200, body: { access_token: 'x', token_type: 'Bearer', expires_in: expiresIn } });
    await expect(client.auth.getToken()).rejects.toMatchObject({
      code: 'invalid_token_response',
      message: expect.stringContaining('"expires_in" is not a finite number > 0'),
    });
    expect(store.saved).toEqual([]);
    expect(sandbox().token.count).toBe(1);
  });
});
