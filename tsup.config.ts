import { defineConfig } from 'tsup';

const entry = { index: 'src/index.ts', 'testing/index': 'src/testing/index.ts', redis: 'src/redis.ts' };

// Source maps point into src/, which the package ships once, instead of embedding the whole
// source in every map (ESM and CJS: twice, half of the unpacked size). Stack traces under
// `node --enable-source-maps` and debuggers still show src/ files and lines.
const withoutSourcesContent = (options: { sourcesContent?: boolean }) => {
  options.sourcesContent = false;
};

// p-limit and p-queue are ESM only, and axios-retry's default export does not survive CommonJS interop
// (`(0, import_axios_retry.default) is not a function`): the CommonJS build bundles them.
export default defineConfig([
  {
    entry,
    format: ['esm'],
    dts: true,
    sourcemap: true,
    esbuildOptions: withoutSourcesContent,
    clean: true,
    target: 'node20',
    platform: 'node',
  },
  {
    entry,
    format: ['cjs'],
    dts: true,
    sourcemap: true,
    esbuildOptions: withoutSourcesContent,
    target: 'node20',
    platform: 'node',
    noExternal: ['p-limit', 'yocto-queue', 'p-queue', 'p-timeout', 'eventemitter3', 'axios-retry', 'is-retry-allowed'],
  },
  // The `axios-servicetitan-auth` command (package.json `bin`): ESM only, no types; the shebang
  // of src/cli/bin.ts is kept and tsup marks the file executable.
  {
    entry: { cli: 'src/cli/bin.ts' },
    format: ['esm'],
    dts: false,
    sourcemap: false,
    target: 'node20',
    platform: 'node',
  },
]);
