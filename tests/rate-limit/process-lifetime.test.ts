import { spawn } from 'node:child_process';
import path from 'node:path';
import { useSandbox } from '../helpers/sandbox';

// A request waiting in the rate limit is pending work: it keeps the process alive until it is
// sent and answered; after the work, nothing does (G11).
describe('a program with requests queued in the rate limit', () => {
  const sandbox = useSandbox();

  test('finishes them, then exits on its own', async () => {
    const script = path.join(__dirname, '..', 'fixtures', 'queued-requests.ts');
    const child = spawn(process.execPath, ['--import', 'tsx', script], {
      env: { ...process.env, QUEUED_CLIENT_OPTIONS: JSON.stringify(sandbox().clientOptions) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    const killer = setTimeout(() => child.kill('SIGKILL'), 25_000);
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    clearTimeout(killer);
    expect({ code, output: output.trim() }).toEqual({ code: 0, output: 'work done 5' });
    expect(sandbox().api.count).toBe(5);
  }, 30_000);
});
