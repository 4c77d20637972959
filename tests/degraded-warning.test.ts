import { runFixture } from './helpers/fixture-process';

// Degraded operation (a shared store down, falling back to per-process) must be visible without
// configuring anything: one process.emitWarning per cause, unless a logger is given. Node prints
// warnings to stderr; a child process shows exactly what a user sees.
const runStoreFixture = (...args: string[]) => runFixture('degraded-store.ts', args);

describe('a token store outage is visible without a logger', () => {
  test('without a logger: one ServiceTitanAuthWarning on stderr for three clients and six failures', async () => {
    const { code, stdout, stderr } = await runStoreFixture();
    expect(code).toBe(0);
    // Per-process fetching: every request got its token and its 200 although Redis was down.
    expect(stdout.trim()).toBe('6 3 0');
    const warnings = stderr.split('\n').filter((line) => line.includes('ServiceTitanAuthWarning'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain(
      '[ST_AUTH_DEGRADED_TOKEN_STORE] ServiceTitanAuthWarning: token store failed; using the in-process cache',
    );
  }, 30_000);

  test('with a logger: its warn gets every outage, and nothing is printed', async () => {
    const { code, stdout, stderr } = await runStoreFixture('logger');
    expect(code).toBe(0);
    expect(stdout.trim()).toBe('6 3 3');
    expect(stderr).not.toContain('ServiceTitanAuthWarning');
  }, 30_000);
});
