import { spawn } from 'node:child_process';
import path from 'node:path';

// G11: a program that uses the library (token fetch, background renewal, 401 renewal, a sandbox)
// and then simply returns must exit on its own: no timer, socket or server keeps it alive.
test('G11: nothing keeps the process alive after the work', async () => {
  const script = path.join(__dirname, 'fixtures', 'exits-on-its-own.ts');
  const child = spawn(process.execPath, ['--import', 'tsx', script], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  child.stderr.on('data', (chunk) => (output += chunk));
  const killer = setTimeout(() => child.kill('SIGKILL'), 12_000);
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  clearTimeout(killer);
  expect({ code, output: output.trim() }).toEqual({ code: 0, output: 'work done' });
}, 20_000);
