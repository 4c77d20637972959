import { runFixture } from './helpers/fixture-process';

// Guarantee 15 as a user sees it: a faulty observer shared by three clients costs exactly one
// ServiceTitanAuthWarning on stderr for the whole process, and every request still succeeds. A
// child process shows Node's own behaviour: its warning output, and that it ends a process on an
// unhandled rejection (what an async logger whose writes fail used to cause).

// Per client: 1 cold token, 5 requests; a revocation: its 401, 1 renewal, 1 replay; 1 forced
// refresh. Three clients: 9 token requests, 21 API requests, 18 answered 200.
const EXPECTED = '9 21 18';

describe('a faulty observer costs one warning per process and no request', () => {
  test.each([
    ['logger-throws', 'ST_AUTH_OBSERVER_LOGGER', 'the logger given to axios-servicetitan-auth failed (Error: '],
    ['logger-rejects', 'ST_AUTH_OBSERVER_LOGGER', 'the logger given to axios-servicetitan-auth failed (Error: '],
    [
      'telemetry-throws',
      'ST_AUTH_OBSERVER_TELEMETRY',
      'the OpenTelemetry SDK (a meter, tracer, span or context manager) failed',
    ],
  ])(
    '%s: every request of three clients succeeds, one %s warning on stderr',
    async (mode, code, text) => {
      const { code: exitCode, stdout, stderr } = await runFixture('faulty-observers.ts', [mode]);
      expect({ exitCode, stdout: stdout.trim() }).toEqual({ exitCode: 0, stdout: EXPECTED });
      const warnings = stderr.split('\n').filter((line) => line.includes('ServiceTitanAuthWarning'));
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toContain(`[${code}] ServiceTitanAuthWarning: ${text}`);
    },
    30_000,
  );
});
