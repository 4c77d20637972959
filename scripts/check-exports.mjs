// Checks that the types promise no value the runtime lacks, in a consumer project that installed
// the packed tarball (scripts/check-package.sh):
//
//   node scripts/check-exports.mjs --project <dir>
//
// For every entry point of the package's `exports` map (`.`, `./testing`, `./redis`, and any
// added later) and both conditions (`import`, `require`), it reads the declaration file the
// condition names (`.d.ts` / `.d.cts`) with the TypeScript compiler API and lists the exports
// that are values (class, function, const, enum, instantiated namespace: what a user can
// `import { X }` and use in an expression), leaving out types and interfaces and anything
// exported with `type`. Then it loads the entry point as a user does, `import()` or `require()`
// from the project, and fails naming every declared value that is missing at run time: tsc
// would accept `import { X }` and Node would then throw "does not provide an export named 'X'".
// The compiler API, not a regex: `export { A as B }`, re-exports through chunk files and
// `export { type X }` are resolved the way tsc resolves them.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import process from 'node:process';
import { parseArgs } from 'node:util';
import ts from 'typescript';

const { values: args } = parseArgs({ options: { project: { type: 'string' } } });
if (args.project === undefined) {
  console.error('usage: node scripts/check-exports.mjs --project <dir>');
  process.exit(2);
}
const project = resolve(args.project);
const projectRequire = createRequire(join(project, 'package.json'));
const PACKAGE = 'axios-servicetitan-auth';
const packageJsonPath = projectRequire.resolve(`${PACKAGE}/package.json`);
const packageDir = dirname(packageJsonPath);
const { exports: exportsMap } = projectRequire(packageJsonPath);

/** `[{ specifier, condition, typesFile }]` for every entry point and condition of the map. */
const targets = [];
for (const [subpath, conditions] of Object.entries(exportsMap)) {
  if (conditions === null || typeof conditions !== 'object') continue; // './package.json'
  for (const condition of ['import', 'require']) {
    const types = conditions[condition]?.types;
    if (typeof types !== 'string') throw new Error(`exports["${subpath}"].${condition} names no types file`);
    targets.push({
      specifier: subpath === '.' ? PACKAGE : `${PACKAGE}/${subpath.slice(2)}`,
      condition,
      typesFile: join(packageDir, types),
    });
  }
}

const program = ts.createProgram(
  targets.map((target) => target.typesFile),
  {
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    target: ts.ScriptTarget.ES2022,
    noEmit: true,
    skipLibCheck: true,
    types: [],
  },
);
const checker = program.getTypeChecker();

/** True when a declaration on the alias chain is type-only (`export type`, `import type`, `{ type X }`). */
function isTypeOnlyAlias(symbol) {
  return (symbol.declarations ?? []).some(
    (declaration) =>
      ts.isTypeOnlyImportOrExportDeclaration(declaration) ||
      ((ts.isExportSpecifier(declaration) || ts.isImportSpecifier(declaration)) &&
        ts.isTypeOnlyImportOrExportDeclaration(declaration.parent.parent)),
  );
}

/** The names a declaration file exports as values. */
function declaredValues(typesFile) {
  const source = program.getSourceFile(typesFile);
  if (source === undefined) throw new Error(`${typesFile}: not found`);
  const moduleSymbol = checker.getSymbolAtLocation(source);
  if (moduleSymbol === undefined) throw new Error(`${typesFile}: not a module`);
  const values = [];
  for (const exported of checker.getExportsOfModule(moduleSymbol)) {
    let symbol = exported;
    let typeOnly = false;
    for (let hops = 0; symbol.flags & ts.SymbolFlags.Alias && hops < 32; hops += 1) {
      if (isTypeOnlyAlias(symbol)) typeOnly = true;
      symbol = checker.getImmediateAliasedSymbol(symbol) ?? symbol;
      if (!(symbol.flags & ts.SymbolFlags.Alias)) break;
    }
    if (!typeOnly && symbol.flags & ts.SymbolFlags.Value) values.push(exported.escapedName.toString());
  }
  return values.sort();
}

/** The names the entry point has at run time (with a defined value), loaded from the project as a user does. */
function runtimeNames({ specifier, condition }) {
  const program =
    condition === 'import'
      ? 'const m = await import(process.env.CHECK_SPECIFIER); console.log(JSON.stringify(Object.keys(m).filter((k) => m[k] !== undefined)));'
      : 'const m = require(process.env.CHECK_SPECIFIER); console.log(JSON.stringify(Object.keys(m).filter((k) => m[k] !== undefined)));';
  const result = spawnSync(
    process.execPath,
    [...(condition === 'import' ? ['--input-type=module'] : ['--input-type=commonjs']), '-e', program],
    { cwd: project, env: { ...process.env, CHECK_SPECIFIER: specifier }, encoding: 'utf8' },
  );
  if (result.status !== 0) throw new Error(`${condition} ${specifier} failed:\n${result.stderr}`);
  return new Set(JSON.parse(result.stdout));
}

const failures = [];
for (const target of targets) {
  const declared = declaredValues(target.typesFile);
  const present = runtimeNames(target);
  const missing = declared.filter((name) => !present.has(name));
  const label = `${target.condition === 'import' ? 'import' : 'require'}('${target.specifier}')`;
  const file = target.typesFile.slice(packageDir.length + 1);
  if (missing.length > 0) {
    failures.push(`${label}: ${file} declares values that are missing at run time: ${missing.join(', ')}`);
  } else {
    console.log(`exports ok: ${label}, ${declared.length} values declared in ${file}, all present`);
  }
}
if (failures.length > 0) {
  for (const failure of failures) console.error(failure);
  process.exit(1);
}
