import { spawnSync } from 'node:child_process';
import path from 'node:path';

// ioredis is an optional peer: importing the library, and even its Redis entry (which only
// needs ioredis's types: the user passes the client in), must not load it.
test('neither the main entry nor axios-servicetitan-auth/redis loads ioredis', () => {
  const root = path.join(__dirname, '..', '..');
  const script = `
    const { createRequire } = await import('node:module');
    await import('./src/index.ts');
    const { RedisTokenStore } = await import('./src/redis.ts');
    if (typeof RedisTokenStore !== 'function') throw new Error('RedisTokenStore is not exported');
    const cache = createRequire(import.meta.url).cache;
    console.log(Object.keys(cache).filter((file) => file.includes('ioredis')).length);
  `;
  const result = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    cwd: root,
    encoding: 'utf8',
  });
  expect({ status: result.status, stderr: result.stderr.trim(), stdout: result.stdout.trim() }).toEqual({
    status: 0,
    stderr: '',
    stdout: '0',
  });
});
