// Checks the relative links of README.md, CONTRIBUTING.md and docs/*.md: a link to a page of the
// repository must name a file that exists, and a `#fragment` must name a heading of that page
// (GitHub's anchors: lower case, punctuation dropped, spaces as hyphens).
//
//   node scripts/check-doc-links.mjs
//
// Errors name the Markdown file and line. External links (https:, mailto:) are not fetched.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import process from 'node:process';
import { fileURLToPath, URL } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const docs = readdirSync(join(root, 'docs'))
  .filter((name) => name.endsWith('.md'))
  .map((name) => `docs/${name}`);
const pages = ['README.md', 'CONTRIBUTING.md', ...docs];

/** The lines of a page outside fenced code blocks, with their 1-based numbers. */
function proseLines(file) {
  const lines = readFileSync(join(root, file), 'utf8').split('\n');
  const prose = [];
  let fenced = false;
  lines.forEach((text, index) => {
    if (/^\s*```/.test(text)) fenced = !fenced;
    else if (!fenced) prose.push({ text, number: index + 1 });
  });
  return prose;
}

/** GitHub's anchor for a heading (github-slugger): `## 401: no bearer token` → `401-no-bearer-token`. */
function slug(heading) {
  return heading
    .replace(/<[^>]*>/g, '')
    .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '')
    .replace(/ /g, '-');
}

const anchorsCache = new Map();
function anchorsOf(file) {
  if (!anchorsCache.has(file)) {
    const seen = new Map();
    const anchors = new Set();
    for (const { text } of proseLines(file)) {
      const heading = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(text);
      if (!heading) continue;
      const base = slug(heading[1]);
      const count = seen.get(base) ?? 0;
      seen.set(base, count + 1);
      anchors.add(count === 0 ? base : `${base}-${count}`);
    }
    anchorsCache.set(file, anchors);
  }
  return anchorsCache.get(file);
}

const problems = [];
let checked = 0;
for (const page of pages) {
  for (const { text, number } of proseLines(page)) {
    // Inline code can hold brackets that are not links.
    const prose = text.replace(/`[^`]*`/g, '');
    for (const match of prose.matchAll(/\]\(([^)\s]+)\)/g)) {
      const target = match[1];
      if (/^[a-z][a-z+.-]*:/i.test(target)) continue; // https:, mailto:
      checked += 1;
      const [path, fragment] = target.split('#');
      const file = path === '' ? page : normalize(relative(root, join(root, dirname(page), path)));
      if (!existsSync(join(root, file))) {
        problems.push(`${page}:${number}: ${target}: no file ${file}`);
        continue;
      }
      if (fragment !== undefined && file.endsWith('.md') && !anchorsOf(file).has(fragment)) {
        problems.push(`${page}:${number}: ${target}: ${file} has no heading with the anchor #${fragment}`);
      }
    }
  }
}
if (problems.length > 0) {
  console.error(problems.join('\n'));
  console.error(`${problems.length} broken link${problems.length > 1 ? 's' : ''} in the docs`);
  process.exit(1);
}
console.log(`doc links: ${checked} relative links resolve (${pages.length} pages)`);
