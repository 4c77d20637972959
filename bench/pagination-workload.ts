/**
 * Parallel pages: `paginate` over N pages of a list whose every call the sandbox answers after a
 * fixed server-side latency, with concurrency 1 and 8. Its own sandbox process, so the latency
 * (a delay fault on every API call) touches no other workload.
 */
import { performance } from 'node:perf_hooks';
import { createServiceTitanClient, paginate } from '../src';
import { BenchServer } from './server-control';
import { fixed, table } from './stats';

export interface PaginationConfig {
  pages: number;
  pageSize: number;
  latencyMs: number;
  concurrencies: number[];
}

export interface PaginationRun {
  concurrency: number;
  pages: number;
  items: number;
  /** Items came out in id order (1, 2, 3, …). */
  inOrder: boolean;
  /** API requests the server received for the iteration (pages past the end included). */
  apiRequests: number;
  ms: number;
  failure?: string;
}

/** A result a harness can judge: structurally bench/index.ts's `Target`. */
export interface PaginationTarget {
  name: string;
  value: string;
  met: boolean;
  kind: 'correctness' | 'timing';
}

export async function paginationWorkload(config: PaginationConfig): Promise<PaginationRun[]> {
  const { pages, pageSize, latencyMs } = config;
  const server = await BenchServer.start({ customerCount: pages * pageSize });
  const runs: PaginationRun[] = [];
  try {
    const { info } = server;
    const client = createServiceTitanClient({
      clientId: info.clientId,
      clientSecret: info.clientSecret,
      appKey: info.appKey,
      environment: { authUrl: info.authUrl, apiUrl: info.apiUrl },
      tenantId: info.tenantId,
    });
    await client.auth.getToken(); // the token fetch is not part of the figure
    await server.apiLatency(latencyMs);
    for (const concurrency of config.concurrencies) {
      const before = (await server.counters()).api;
      const start = performance.now();
      let expected = 1;
      let inOrder = true;
      let failure: string | undefined;
      try {
        for await (const item of paginate<{ id: number }>(client, '/crm/v2/tenant/{tenant}/customers', {
          pageSize,
          concurrency,
        })) {
          if (item.id !== expected) inOrder = false;
          expected += 1;
        }
      } catch (error) {
        failure = error instanceof Error ? error.message : String(error);
      }
      const ms = performance.now() - start;
      const apiRequests = (await server.counters()).api - before;
      runs.push({ concurrency, pages, items: expected - 1, inOrder, apiRequests, ms, ...(failure ? { failure } : {}) });
    }
  } finally {
    await server.close();
  }
  return runs;
}

export function paginationSection(
  runs: PaginationRun[],
  config: PaginationConfig,
  targets: PaginationTarget[],
): string {
  const baseline = runs.find((run) => run.concurrency === 1)?.ms ?? Number.NaN;
  for (const run of runs) {
    const complete = run.items === config.pages * config.pageSize && run.inOrder && run.failure === undefined;
    targets.push(
      {
        name: `pagination: every item, in order (concurrency ${run.concurrency})`,
        value: `${run.items} items${run.inOrder ? '' : ', out of order'}${run.failure ? `, ${run.failure}` : ''}`,
        met: complete,
        kind: 'correctness',
      },
      {
        name: `pagination: at most concurrency - 1 requests past the end (concurrency ${run.concurrency})`,
        value: `${run.apiRequests} requests for ${run.pages} pages`,
        met: run.apiRequests <= run.pages + run.concurrency - 1,
        kind: 'correctness',
      },
    );
  }
  const rows = runs.map((run) => [
    String(run.concurrency),
    String(run.pages),
    String(run.apiRequests),
    fixed(run.ms / 1000, 2),
    fixed((run.pages / run.ms) * 1000, 1),
    fixed(baseline / run.ms, 2),
  ]);
  return [
    `### Parallel pages: paginate over ${config.pages} pages of ${config.pageSize}, every API call answered after ${config.latencyMs} ms at the server`,
    '',
    table(['concurrency', 'pages', 'API requests', 'wall s', 'pages/s', 'speed-up vs 1'], rows),
    '',
    'API requests counted at the server; with concurrency k up to k − 1 requests past the last page are allowed (the end is unknown until a page says hasMore: false).',
  ].join('\n');
}
