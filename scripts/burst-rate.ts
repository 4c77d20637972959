/**
 * The request rate the sandbox sees for a burst through createServiceTitanClient with its
 * default rate limit (60 requests per rolling second), with the sandbox enforcing ServiceTitan's
 * limit too (it answers 429 beyond 60/s). `npx tsx scripts/burst-rate.ts [requests]` (300).
 */
import { createServiceTitanClient } from '../src';
import { startSandbox } from '../src/testing';

const requests = Number(process.argv[2] ?? 300);
const sandbox = await startSandbox({ requestLogLimit: requests });
try {
  const client = createServiceTitanClient({ ...sandbox.clientOptions });
  await client.auth.getToken();
  const started = Date.now();
  const results = await Promise.allSettled(
    Array.from({ length: requests }, () =>
      client.get('/crm/v2/tenant/{tenant}/customers', { params: { pageSize: 1 } }),
    ),
  );
  const seconds = (Date.now() - started) / 1000;

  const arrivals = sandbox.api.requests.map((r) => r.at).sort((a, b) => a - b);
  let maxInAnySecond = 0;
  for (let start = 0, end = 0; end < arrivals.length; end += 1) {
    while (arrivals[end]! - arrivals[start]! >= 1000) start += 1;
    maxInAnySecond = Math.max(maxInAnySecond, end - start + 1);
  }
  const perSecond: number[] = [];
  for (const at of arrivals) {
    const second = Math.floor((at - arrivals[0]!) / 1000);
    perSecond[second] = (perSecond[second] ?? 0) + 1;
  }
  const rows: [string, string | number][] = [
    ['requests', requests],
    ['succeeded', results.filter((r) => r.status === 'fulfilled').length],
    ['429s answered by the sandbox', sandbox.api.rateLimited],
    ['most arrivals in any rolling second at the sandbox', maxInAnySecond],
    ['arrivals per second from the first one', perSecond.join(', ')],
    ['wall time', `${seconds.toFixed(2)} s`],
  ];
  console.log('| metric | value |\n| --- | --- |');
  for (const [name, value] of rows) console.log(`| ${name} | ${value} |`);
} finally {
  await sandbox.close();
}
