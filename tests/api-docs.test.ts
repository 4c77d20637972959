import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';
import { resolveRateLimit } from '../src/rate-limit/options';

// Item 8 of issue 12: every exported function and class of the public entry points documents
// itself with an @example (the API reference is generated from these comments).
const ENTRIES = ['src/index.ts', 'src/testing/index.ts', 'src/redis.ts'];

function exportsWithoutExample(): string[] {
  const root = join(__dirname, '..');
  const program = ts.createProgram(
    ENTRIES.map((entry) => join(root, entry)),
    {
      module: ts.ModuleKind.ESNext,
      moduleResolution: ts.ModuleResolutionKind.Bundler,
      target: ts.ScriptTarget.ES2022,
      noEmit: true,
    },
  );
  const checker = program.getTypeChecker();
  const missing: string[] = [];
  for (const entry of ENTRIES) {
    const source = program.getSourceFile(join(root, entry))!;
    const module = checker.getSymbolAtLocation(source)!;
    for (const exported of checker.getExportsOfModule(module)) {
      const symbol = exported.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exported) : exported;
      for (const declaration of symbol.getDeclarations() ?? []) {
        if (!ts.isFunctionDeclaration(declaration) && !ts.isClassDeclaration(declaration)) continue;
        // Overloads: the first signature carries the documentation.
        const documented = symbol
          .getDeclarations()!
          .some((d) => ts.getJSDocTags(d).some((tag) => tag.tagName.text === 'example'));
        if (!documented) missing.push(`${entry}: ${exported.name}`);
        break;
      }
    }
  }
  return [...new Set(missing)];
}

test('every exported function and class has an @example', () => {
  expect(exportsWithoutExample()).toEqual([]);
}, 60_000);

// Issue 11: every option of the rate limit, the reporting limit, the Redis rate-limit store and
// the parallel pages documents its default and an example (the limit's interfaces in full; of
// the paging options, the ones that issue added).
const OPTION_DOCS: { file: string; name: string; only?: string[] }[] = [
  { file: 'src/rate-limit/options.ts', name: 'RateLimitOptions' },
  { file: 'src/rate-limit/options.ts', name: 'ReportLimitOptions' },
  { file: 'src/rate-limit/redis-store.ts', name: 'RedisRateLimitStoreOptions' },
  { file: 'src/pagination/list-pages.ts', name: 'PaginateOptions', only: ['concurrency'] },
  { file: 'src/pagination/report-rows.ts', name: 'ReportRowsOptions', only: ['parameters', 'pageSize', 'concurrency'] },
];

/** `{ name: { default, example } }` of the interface's properties, from their JSDoc tags. */
function documentedProperties(
  file: string,
  name: string,
): Map<string, { default: string | undefined; example: string | undefined }> {
  const path = join(__dirname, '..', file);
  const source = ts.createSourceFile(path, readFileSync(path, 'utf8'), ts.ScriptTarget.ES2022, true);
  const found = source.statements.find(
    (s): s is ts.InterfaceDeclaration => ts.isInterfaceDeclaration(s) && s.name.text === name,
  );
  if (found === undefined) throw new Error(`${name} not found in ${file}`);
  const properties = new Map<string, { default: string | undefined; example: string | undefined }>();
  for (const member of found.members) {
    if (!ts.isPropertySignature(member)) continue;
    const tags = ts.getJSDocTags(member);
    const text = (tag: string) => {
      const comment = tags.find((t) => t.tagName.text === tag)?.comment;
      return typeof comment === 'string' ? comment : comment?.map((part) => part.text).join('');
    };
    properties.set(member.name.getText(source), { default: text('default'), example: text('example') });
  }
  return properties;
}

test.each(OPTION_DOCS)('every option of $name documents a @default and an @example', ({ file, name, only }) => {
  const undocumented = [...documentedProperties(file, name)]
    .filter(([property]) => only === undefined || only.includes(property))
    .filter(([, docs]) => !docs.default || !docs.example)
    .map(([property]) => property);
  expect(undocumented).toEqual([]);
});

test('the rate limit documents the defaults it uses', () => {
  const docs = documentedProperties('src/rate-limit/options.ts', 'RateLimitOptions');
  const documented = (property: string) => Number.parseFloat(docs.get(property)!.default!);
  const resolved = resolveRateLimit({})!;
  expect(documented('requestsPerSecond')).toBe(resolved.requestsPerSecond);
  expect(documented('windowMarginMs')).toBe(resolved.windowMs - 1000);
  expect(documented('pauseOn429Ms')).toBe(resolved.pauseOn429Ms);
  expect(docs.get('maxConcurrent')!.default).toBe('Infinity');
  expect(resolved.maxConcurrent).toBeUndefined();
});
