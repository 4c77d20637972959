import { defineConfig } from 'tsup';

const entry = { index: 'src/index.ts', 'testing/index': 'src/testing/index.ts' };

// p-limit is ESM only, and axios-retry's default export does not survive CommonJS interop
// (`(0, import_axios_retry.default) is not a function`): the CommonJS build bundles them.
export default defineConfig([
  {
    entry,
    format: ['esm'],
    dts: true,
    sourcemap: true,
    clean: true,
    target: 'node20',
    platform: 'node',
  },
  {
    entry,
    format: ['cjs'],
    dts: true,
    sourcemap: true,
    target: 'node20',
    platform: 'node',
    noExternal: ['p-limit', 'yocto-queue', 'axios-retry', 'is-retry-allowed'],
  },
]);
