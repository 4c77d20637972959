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
 *   ST_CLIENT_ID=… ST_CLIENT_SECRET=… ST_APP_KEY=… ST_TENANT_ID=… ST_ENVIRONMENT=integration|production npx tsx examples/export-customers.ts
 *     against real ServiceTitan (the ST_ENVIRONMENT you name; there is no default), or against
 *     whatever ST_AUTH_URL / ST_API_URL point at (e.g. `npx axios-servicetitan-auth sandbox`).
 *
 * Options: --checkpoint <file> (default: a JSON file in the OS temp directory, one per target),
 * --max-batches <n>, --reset.
 */
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import {
  clientOptionsFromEnv,
  createServiceTitanClient,
  exportPages,
  isServiceTitanAuthError,
  type ServiceTitanClientOptions,
} from 'axios-servicetitan-auth';
import { startSandbox, type Sandbox } from 'axios-servicetitan-auth/testing';

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

  // The ST_* variables when any is set (all of them, or a typed error naming what is missing).
  const fromEnv = clientOptionsFromEnv({ optional: true, requireTenantId: true });
  let sandbox: Sandbox | undefined;
  let options: ServiceTitanClientOptions;
  if (fromEnv === undefined) {
    sandbox = await startSandbox();
    options = { ...sandbox.clientOptions };
  } else {
    options = fromEnv;
  }
  const { environment } = options;
  const where = typeof environment === 'string' ? environment : sandbox ? 'sandbox' : new URL(environment.apiUrl).host;
  const target = `${where}:${String(options.tenantId)}`;
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
