import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { build, type BuildOptions } from 'esbuild';

const root = path.resolve(__dirname, '..');
// Inside the repository, so that the builds resolve `axios` from its node_modules.
const outdir = path.join(root, 'node_modules', '.cache', `dual-load-${process.pid}`);
const entryPoints = { index: 'src/index.ts', 'testing/index': 'src/testing/index.ts' };

/** The two builds as tsup makes them (tsup.config.ts): ESM with external dependencies, CJS bundling all but the peers. */
async function buildBothFormats(): Promise<void> {
  const common: BuildOptions = {
    absWorkingDir: root,
    entryPoints,
    bundle: true,
    platform: 'node',
    target: 'node20',
    outdir,
    logLevel: 'silent',
  };
  await build({ ...common, format: 'esm', packages: 'external', outExtension: { '.js': '.js' } });
  await build({ ...common, format: 'cjs', external: ['axios', 'ioredis'], outExtension: { '.js': '.cjs' } });
  copyFileSync(path.join(__dirname, 'fixtures', 'dual-load.mjs'), path.join(outdir, 'dual-load.mjs'));
}

describe('one library, however it is loaded (ESM and CommonJS builds in one process)', () => {
  beforeAll(async () => {
    mkdirSync(outdir, { recursive: true });
    await buildBothFormats();
  });
  afterAll(() => {
    rmSync(outdir, { recursive: true, force: true });
  });

  test('a second attach through the other build is refused, and errors are instanceof across builds', () => {
    const child = spawnSync(process.execPath, [path.join(outdir, 'dual-load.mjs')], {
      cwd: root,
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(child.stderr).toBe('');
    expect(child.status).toBe(0);
    const result = JSON.parse(child.stdout);
    expect(result).toEqual({
      copiesDiffer: true,
      secondAttach: 'invalid_config',
      secondAttachIsCjsError: true,
      secondAttachIsEsmError: true,
      // One plugin on the instance: one token request, one API call.
      tokenRequests: 1,
      apiRequests: 1,
      rejectedCode: 'invalid_client',
      esmErrorInstanceofCjs: true,
      esmErrorInstanceofEsm: true,
      plainErrorInstanceof: false,
      cjsGuard: true,
    });
  });
});
