import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { build } from 'esbuild';

const root = resolve(__dirname, '../..');
const run = promisify(execFile);

// A program that uses the library as a user would; with WITH_SDK=1 it registers the metrics SDK
// first (loaded through NODE_PATH) and reports how many token requests it recorded.
const PROGRAM = `
import { createRequire } from 'node:module';
import { createServiceTitanClient } from './src/index';
import { startSandbox } from './src/testing/index';

async function main() {
  const load = createRequire(process.argv[1]!);
  let apiResolvable = true;
  try { load.resolve('@opentelemetry/api'); } catch { apiResolvable = false; }
  let collect: (() => Promise<number>) | undefined;
  if (process.env.WITH_SDK === '1') {
    const { metrics } = load('@opentelemetry/api');
    const sdk = load('@opentelemetry/sdk-metrics');
    const reader = new (class extends sdk.MetricReader { async onForceFlush() {} async onShutdown() {} })();
    metrics.setGlobalMeterProvider(new sdk.MeterProvider({ readers: [reader] }));
    collect = async () => {
      const { resourceMetrics } = await reader.collect();
      const metric = resourceMetrics.scopeMetrics.flatMap((s: any) => s.metrics)
        .find((m: any) => m.descriptor.name === 'servicetitan.auth.token.requests');
      return metric ? metric.dataPoints.reduce((n: number, p: any) => n + p.value, 0) : 0;
    };
  }
  const sandbox = await startSandbox({ rateLimit: false });
  try {
    const client = createServiceTitanClient({ ...sandbox.clientOptions, tokenRequest: { retryDelayMs: 5 } });
    const responses = await Promise.all([1, 2, 3].map(() => client.get('/crm/v2/tenant/{tenant}/customers')));
    console.log(JSON.stringify({
      apiResolvable,
      statuses: responses.map((r) => r.status),
      tokenRequestsAtServer: sandbox.token.count,
      tokenRequestsRecorded: collect ? await collect() : null,
    }));
  } finally {
    await sandbox.close();
  }
}
main().catch((error) => { console.error(error); process.exit(1); });
`;

// What tsup.config.ts leaves external in each format (the CommonJS build bundles the ESM-only rest).
const EXTERNAL = {
  esm: ['axios', 'axios-retry', 'p-limit', 'p-queue', 'ioredis', '@opentelemetry/api', '@opentelemetry/sdk-metrics'],
  cjs: ['axios', 'ioredis', '@opentelemetry/api', '@opentelemetry/sdk-metrics'],
};

/**
 * The main entry must load and work where `@opentelemetry/api` cannot be resolved. The library
 * is built with esbuild (what tsup runs) in both formats with tsup's externals, into a directory
 * outside the repository whose node_modules links every installed package but @opentelemetry.
 */
describe('@opentelemetry/api is an optional peer', () => {
  let dir: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'st-otel-optional-'));
    mkdirSync(join(dir, 'node_modules'));
    for (const name of readdirSync(join(root, 'node_modules'))) {
      if (name !== '@opentelemetry' && !name.startsWith('.')) {
        symlinkSync(join(root, 'node_modules', name), join(dir, 'node_modules', name));
      }
    }
    for (const format of ['esm', 'cjs'] as const) {
      await build({
        stdin: { contents: PROGRAM, resolveDir: root, loader: 'ts', sourcefile: 'program.ts' },
        bundle: true,
        platform: 'node',
        target: 'node20',
        format,
        outfile: join(dir, format === 'esm' ? 'program.mjs' : 'program.cjs'),
        external: EXTERNAL[format],
        logLevel: 'silent',
      });
    }
  }, 30_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const runProgram = async (file: string, env: Record<string, string>) => {
    const { stdout } = await run(process.execPath, [join(dir, file)], {
      cwd: dir,
      env: { PATH: process.env.PATH ?? '', ...env },
      timeout: 20_000,
    });
    return JSON.parse(stdout) as {
      apiResolvable: boolean;
      statuses: number[];
      tokenRequestsAtServer: number;
      tokenRequestsRecorded: number | null;
    };
  };

  test.each(['program.mjs', 'program.cjs'])('%s loads and works without @opentelemetry/api', async (file) => {
    const result = await runProgram(file, {});
    expect(result).toEqual({
      apiResolvable: false,
      statuses: [200, 200, 200],
      tokenRequestsAtServer: 1,
      tokenRequestsRecorded: null,
    });
  });

  // The control: the same files, with the API resolvable, do load it and record.
  test.each(['program.mjs', 'program.cjs'])('%s records through the API when it can be resolved', async (file) => {
    const result = await runProgram(file, { NODE_PATH: join(root, 'node_modules'), WITH_SDK: '1' });
    expect(result).toEqual({
      apiResolvable: true,
      statuses: [200, 200, 200],
      tokenRequestsAtServer: 1,
      tokenRequestsRecorded: 1,
    });
  });
});
