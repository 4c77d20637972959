/**
 * The rate-limit benchmark's server process: the sandbox limiting like ServiceTitan (60 per
 * rolling second per app key and tenant, 429 beyond), every API answer delayed by `latencyMs`,
 * and a log of arrival times. Prints its URLs and credentials as one JSON line; over IPC,
 * `{ cmd: 'stats' }` answers the arrivals, `{ cmd: 'reset' }` zeroes them (after a warm-up) and
 * `{ cmd: 'close' }` stops it.
 *
 *   node --import tsx bench/rate-limit-server.ts '{"latencyMs":300}'
 */
import { startSandbox } from '../src/testing';

const { latencyMs } = JSON.parse(process.argv[2] ?? '{}') as { latencyMs?: number };
const sandbox = await startSandbox({
  rateLimit: { requestsPerSecond: 60 },
  reportRateLimit: false,
  requestLogLimit: 100_000,
});
if (latencyMs !== undefined && latencyMs > 0) sandbox.api.enqueue({ delayMs: latencyMs, times: 1e9 });
process.stdout.write(
  `${JSON.stringify({ ...sandbox.clientOptions, environment: sandbox.environment, pid: process.pid })}\n`,
);

process.on('message', (message: { id: number; cmd: 'stats' | 'reset' | 'close' }) => {
  if (message.cmd === 'reset') {
    sandbox.resetCounters();
    process.send?.({ id: message.id, result: null });
  } else if (message.cmd === 'stats') {
    process.send?.({
      id: message.id,
      result: {
        count: sandbox.api.count,
        rateLimited: sandbox.api.rateLimited,
        maxArrivals: sandbox.api.maxArrivals(1000),
        arrivals: sandbox.api.requests.map((r) => r.at),
      },
    });
  } else {
    void sandbox.close().finally(() => {
      process.send?.({ id: message.id, result: null });
      setImmediate(() => process.exit(0));
    });
  }
});
process.on('disconnect', () => {
  void sandbox.close().finally(() => process.exit(0));
});
