/**
 * Summarizes a V8 .cpuprofile: top frames by self time, and self time grouped by origin
 * (this library's src/, axios, follow-redirects, node internals, other node_modules).
 *
 *   node --import tsx bench/summarize-profile.ts <file.cpuprofile> [top=25]
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

const [file, topArg] = process.argv.slice(2);
if (file === undefined) throw new Error('usage: summarize-profile.ts <file.cpuprofile> [top]');
const top = Number(topArg ?? 25);
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;

// Self time per node: each sample's time delta goes to the sampled node.
const selfMicros = new Map<number, number>();
profile.samples.forEach((id, i) => selfMicros.set(id, (selfMicros.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
const total = [...selfMicros.values()].reduce((a, b) => a + b, 0);

function origin(url: string, name: string): string {
  if (url.includes('/work/') && url.includes('/src/') && !url.includes('node_modules')) return 'ours (src/)';
  if (url.includes('/bench/')) return 'bench harness';
  if (url.includes('node_modules/axios/')) return 'axios';
  if (url.includes('node_modules/follow-redirects/')) return 'follow-redirects';
  if (url.includes('node_modules/')) return 'other node_modules';
  if (url.startsWith('node:')) return 'node internals';
  if (name === '(garbage collector)') return 'GC';
  if (name === '(idle)' || name === '(program)') return name;
  return url === '' ? 'native / builtins' : 'other';
}

const byFrame = new Map<string, { micros: number; origin: string }>();
const byOrigin = new Map<string, number>();
for (const node of profile.nodes) {
  const micros = selfMicros.get(node.id) ?? 0;
  if (micros === 0) continue;
  const { functionName, url, lineNumber } = node.callFrame;
  const short = url.replace(/^.*\/(node_modules\/|src\/|bench\/)/, '$1').replace(/^file:\/\//, '');
  const key = `${functionName || '(anonymous)'} ${short}${url ? `:${lineNumber + 1}` : ''}`;
  const o = origin(url, functionName);
  const entry = byFrame.get(key) ?? { micros: 0, origin: o };
  entry.micros += micros;
  byFrame.set(key, entry);
  byOrigin.set(o, (byOrigin.get(o) ?? 0) + micros);
}

const pct = (micros: number) => `${((micros / total) * 100).toFixed(2)} %`;
console.log(`total sampled: ${(total / 1000).toFixed(0)} ms\n`);
console.log('| origin | self time | share |\n| --- | --- | --- |');
for (const [o, micros] of [...byOrigin].sort((a, b) => b[1] - a[1]))
  console.log(`| ${o} | ${(micros / 1000).toFixed(1)} ms | ${pct(micros)} |`);
console.log(`\n| top ${top} frames by self time | origin | self | share |\n| --- | --- | --- | --- |`);
for (const [key, { micros, origin: o }] of [...byFrame].sort((a, b) => b[1].micros - a[1].micros).slice(0, top)) {
  console.log(`| ${key} | ${o} | ${(micros / 1000).toFixed(1)} ms | ${pct(micros)} |`);
}
console.log('\n| our frames (src/) by self time | self | share |\n| --- | --- | --- |');
for (const [key, { micros }] of [...byFrame]
  .filter(([, v]) => v.origin === 'ours (src/)')
  .sort((a, b) => b[1].micros - a[1].micros)) {
  console.log(`| ${key} | ${(micros / 1000).toFixed(1)} ms | ${pct(micros)} |`);
}
