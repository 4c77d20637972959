import { runFixture } from './helpers/fixture-process';

// G11: a program that uses the library (token fetch, background renewal, 401 renewal, a sandbox)
// and then simply returns must exit on its own: no timer, socket or server keeps it alive.
test('G11: nothing keeps the process alive after the work', async () => {
  const { code, stdout, stderr } = await runFixture('exits-on-its-own.ts', [], { killAfterMs: 12_000 });
  expect({ code, stdout: stdout.trim(), stderr }).toEqual({ code: 0, stdout: 'work done', stderr: '' });
}, 20_000);
