import { DEPRECATED_OPTION_NAMES } from '../src/deprecated-options';
import { runFixture } from './helpers/fixture-process';

// Issue 19 item 8 as a user sees it: three rounds of clients, tenant clients, sandboxes and
// faults given every deprecated name cost exactly one DeprecationWarning per name for the whole
// process, naming the old and the new name and never a value; the new names cost none. A child
// process shows Node's own warning output (and keeps other test files' warnings out).
const runOptionsFixture = (mode: 'old' | 'new') => runFixture('deprecated-options.ts', [mode]);

const EXPECTED: [code: string, oldName: string, newName: string][] = [
  ...Object.entries(DEPRECATED_OPTION_NAMES).map(([oldName, newName]): [string, string, string] => [
    `ST_AUTH_DEP_${oldName.replace(/([a-z])([A-Z])/g, '$1_$2').toUpperCase()}`,
    oldName,
    newName,
  ]),
  [
    'ST_AUTH_DEP_SANDBOX_OPTIONS_TOKEN_LIFETIME_SECONDS',
    'SandboxOptions.tokenLifetimeSeconds',
    'SandboxOptions.tokenLifetimeMs',
  ],
  ['ST_AUTH_DEP_FAULT_RETRY_AFTER', 'Fault.retryAfter', 'Fault.retryAfterMs'],
];

const deprecationLines = (stderr: string) => stderr.split('\n').filter((line) => line.includes('DeprecationWarning'));

describe('deprecated option names: one DeprecationWarning per name per process', () => {
  test('three rounds of every old name: one warning per name, naming old and new, no value', async () => {
    const { code, stdout, stderr } = await runOptionsFixture('old');
    expect({ code, stdout: stdout.trim() }).toEqual({ code: 0, stdout: 'old 6' });
    const lines = deprecationLines(stderr);
    const codes = lines.map((line) => /\[(ST_AUTH_DEP_[A-Z_]+)\] DeprecationWarning: /.exec(line)?.[1]);
    expect([...codes].sort()).toEqual(EXPECTED.map(([c]) => c).sort());
    for (const [warningCode, oldName, newName] of EXPECTED) {
      const line = lines.find((l) => l.includes(`[${warningCode}]`)) ?? '';
      expect(line).toContain(`the option ${oldName} is deprecated, use ${newName}`);
    }
    expect(stderr).not.toContain('4242');
  }, 30_000);

  test('the same with the new names: no DeprecationWarning at all', async () => {
    const { code, stdout, stderr } = await runOptionsFixture('new');
    expect({ code, stdout: stdout.trim() }).toEqual({ code: 0, stdout: 'new 6' });
    expect(deprecationLines(stderr)).toEqual([]);
  }, 30_000);
});
