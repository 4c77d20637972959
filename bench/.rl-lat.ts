import { limiterSection, limiterVsLatency, rateLimitSettings } from './rate-limit-workloads';
import { loadavg } from 'node:os';
const s = rateLimitSettings('full');
console.log(`load at start ${loadavg().map((n) => n.toFixed(2)).join(' ')}`);
console.log(limiterSection(await limiterVsLatency(s.latencies, s.seconds), []));
console.log(`load at end ${loadavg().map((n) => n.toFixed(2)).join(' ')}`);
process.exit(0);
