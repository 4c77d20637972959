import { join } from 'node:path';
import ts from 'typescript';

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
