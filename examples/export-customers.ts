/**
 * A resumable export of customers with exportPages: every batch is processed, then its
 * `continueFrom` is saved to a checkpoint file; the next run starts from the checkpoint, so an
 * interrupted run loses nothing and repeats nothing, and a finished run makes the next one
 * incremental (only what changed since).
 *
 *   npx tsx examples/export-customers.ts --max-batches 2     stops after 2 batches (an "interrupted" run)
 *   npx tsx examples/export-customers.ts                     resumes where the last run stopped
 *   npx tsx examples/export-customers.ts --reset             forgets the checkpoint, starts over
 *     against the embedded sandbox (a local ServiceTitan emulator: 120 customers, batches of 50).
 *
 *   ST_CLIENT_ID=… ST_CLIENT_SECRET=… ST_APP_KEY=… ST_TENANT_ID=… [ST_ENVIRONMENT=production] npx tsx examples/export-customers.ts
 *     against real ServiceTitan (integration unless ST_ENVIRONMENT=production).
 *
 * Options: --checkpoint <file> (default: a JSON file in the OS temp directory, one per target),
 * --max-batches <n>, --reset.
 */
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { createServiceTitanClient, isServiceTitanAuthError, type ServiceTitanClientOptions } from '../src';
import { exportPages } from '../src/pagination';
import { startSandbox, type Sandbox } from '../src/testing';

interface Customer {
  id: number;
  name: string;
  modifiedOn: string;
}

/** What the checkpoint file holds: where to resume, and for which tenant. */
interface Checkpoint {
  target: string;
  continueFrom: string;
  exported: number;
  savedAt: string;
}

const ST_VARS = ['ST_CLIENT_ID', 'ST_CLIENT_SECRET', 'ST_APP_KEY', 'ST_TENANT_ID'] as const;
const env = (name: (typeof ST_VARS)[number]) => process.env[name] ?? '';

async function readCheckpoint(file: string, target: string): Promise<Checkpoint | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  const checkpoint = JSON.parse(text) as Checkpoint;
  if (checkpoint.target !== target || typeof checkpoint.continueFrom !== 'string') {
    throw new Error(
      `${file} is a checkpoint for ${checkpoint.target}, not ${target}: use --reset or another --checkpoint`,
    );
  }
  return checkpoint;
}

/** Writes the checkpoint atomically: a crash mid-write leaves the previous one intact. */
async function writeCheckpoint(file: string, checkpoint: Checkpoint): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  const temporary = `${file}.${process.pid}.tmp`;
  await writeFile(temporary, `${JSON.stringify(checkpoint, null, 2)}\n`);
  await rename(temporary, file);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      checkpoint: { type: 'string' },
      'max-batches': { type: 'string' },
      reset: { type: 'boolean', default: false },
    },
  });
  const maxBatches = values['max-batches'] === undefined ? Infinity : Number(values['max-batches']);
  if (!(Number.isInteger(maxBatches) && maxBatches >= 1) && maxBatches !== Infinity) {
    throw new Error(`--max-batches must be a positive integer, got ${values['max-batches']}`);
  }

  const set = ST_VARS.filter((name) => env(name) !== '');
  if (set.length > 0 && set.length < ST_VARS.length) {
    console.error(
      `Missing ${ST_VARS.filter((name) => env(name) === '').join(', ')} (set all four, or none for the sandbox).`,
    );
    process.exitCode = 2;
    return;
  }
  let sandbox: Sandbox | undefined;
  let options: ServiceTitanClientOptions;
  let target: string;
  if (set.length === 0) {
    sandbox = await startSandbox();
    options = { ...sandbox.clientOptions };
    target = `sandbox:${sandbox.tenantId}`;
  } else {
    const environment = process.env.ST_ENVIRONMENT ?? 'integration';
    if (environment !== 'integration' && environment !== 'production') {
      throw new Error(`ST_ENVIRONMENT must be integration or production, got ${JSON.stringify(environment)}`);
    }
    options = {
      clientId: env('ST_CLIENT_ID'),
      clientSecret: env('ST_CLIENT_SECRET'),
      appKey: env('ST_APP_KEY'),
      environment,
      tenantId: env('ST_TENANT_ID'),
    };
    target = `${environment}:${env('ST_TENANT_ID')}`;
  }
  const file =
    values.checkpoint ??
    join(tmpdir(), `axios-servicetitan-auth-export-customers-${target.replace(/[^\w-]/g, '_')}.json`);

  try {
    if (values.reset) await rm(file, { force: true });
    const checkpoint = await readCheckpoint(file, target);
    console.log(`Exporting customers from ${target}; checkpoint ${file}`);
    console.log(
      checkpoint
        ? `   resuming after ${checkpoint.exported} customers (checkpoint of ${checkpoint.savedAt})`
        : '   no checkpoint: starting from the beginning',
    );

    const client = createServiceTitanClient(options);
    let exported = checkpoint?.exported ?? 0;
    let batches = 0;
    let finished = false;
    for await (const batch of exportPages<Customer>(client, '/crm/v2/tenant/{tenant}/export/customers', {
      ...(checkpoint ? { from: checkpoint.continueFrom } : {}),
    })) {
      // Process the batch first (write it to your database…), then checkpoint: at-least-once.
      const ids = batch.data.map((c) => c.id);
      exported += batch.data.length;
      batches += 1;
      await writeCheckpoint(file, {
        target,
        continueFrom: batch.continueFrom,
        exported,
        savedAt: new Date().toISOString(),
      });
      const span = ids.length > 0 ? `ids ${ids[0]}…${ids.at(-1)}` : 'nothing new';
      console.log(`   batch ${batches}: ${batch.data.length} customers (${span}), hasMore ${batch.hasMore}`);
      if (!batch.hasMore) finished = true;
      else if (batches >= maxBatches) break;
    }
    console.log(
      finished
        ? `Up to date: ${exported} customers exported in total; the next run picks up only what changes.`
        : `Stopped after ${batches} batches (--max-batches); run again to resume.`,
    );
  } finally {
    await sandbox?.close();
  }
}

main().catch((error: unknown) => {
  const code = isServiceTitanAuthError(error) ? ` [${error.code}]` : '';
  console.error(`export FAILED${code}:`, error instanceof Error ? `${error.name}: ${error.message}` : error);
  process.exitCode = 1;
});
