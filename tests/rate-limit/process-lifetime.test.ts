import { runFixture } from '../helpers/fixture-process';
import { useSandbox } from '../helpers/sandbox';

// A request waiting in the rate limit is pending work: it keeps the process alive until it is
// sent and answered; after the work, nothing does (G11).
describe('a program with requests queued in the rate limit', () => {
  const sandbox = useSandbox();

  test('finishes them, then exits on its own', async () => {
    const { code, stdout, stderr } = await runFixture('queued-requests.ts', [], {
      env: { QUEUED_CLIENT_OPTIONS: JSON.stringify(sandbox().clientOptions) },
      killAfterMs: 25_000,
    });
    expect({ code, stdout: stdout.trim(), stderr }).toEqual({ code: 0, stdout: 'work done 5', stderr: '' });
    expect(sandbox().api.count).toBe(5);
  }, 30_000);
});
