/**
 * Hot-path profile: a throughput run of one variant (default `library`) under `--cpu-prof`,
 * then a summary of the top self-time frames (ours, axios's, node's).
 *
 *   node --cpu-prof --cpu-prof-dir=bench/results/profiles --import tsx bench/profile.ts [variant] [requests] [--instant]
 *   node --import tsx bench/summarize-profile.ts bench/results/profiles/<file>.cpuprofile
 *
 * The sandbox runs in its own process (not profiled), so the profile is the client's alone.
 * `--instant` gives the instance an adapter that answers at once (tokens still come from the
 * sandbox): the profile is then axios's pipeline plus the interceptors, without sockets.
 */
import { BenchServer } from './server-control';
import { runPool } from './stats';
import { createSubject, type VariantName } from './variants';
import { instantAdapter } from './workloads';

const args = process.argv.slice(2);
const instant = args.includes('--instant');
const [variantArg, requestsArg] = args.filter((arg) => arg !== '--instant');
const variant = (variantArg ?? 'library') as VariantName;
const requests = Number(requestsArg ?? 40_000);
const server = await BenchServer.start();
try {
  const subject = await createSubject(variant, server.info, {
    maxSockets: 32,
    ...(instant ? { adapter: instantAdapter } : {}),
  });
  await runPool(6_000, 32, () => subject.instance.get(subject.url)); // warm-up (JIT)
  const start = performance.now();
  const { failures } = await runPool(requests, 32, () => subject.instance.get(subject.url));
  const ms = performance.now() - start;
  subject.dispose();
  console.log(
    `${variant}${instant ? ' (instant adapter)' : ''}: ${requests} requests in ${ms.toFixed(0)} ms (${Math.round((requests / ms) * 1000)} req/s), ${failures} failures`,
  );
} finally {
  await server.close();
}
