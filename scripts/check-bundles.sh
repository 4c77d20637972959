#!/usr/bin/env bash
# Bundles a small app that uses the installed package with esbuild, the three ways
# docs/getting-started.md ("Bundling an app") documents, and runs each bundle against the sandbox it ships:
#   ESM + createRequire banner and CJS: self-contained, run from a directory without node_modules;
#   ESM + --packages=external: run next to the project's node_modules.
# Also proves the trap the guide warns about: the ESM bundle without the banner fails.
#   bash scripts/check-bundles.sh <consumer project that installed the tarball>
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
project=$(cd "$1" && pwd)
esbuild="$root/node_modules/.bin/esbuild"
cd "$project"
mkdir -p bundle-app
cat > bundle-app/app.ts <<'TS'
import { createServiceTitanClient, paginate } from 'axios-servicetitan-auth';
import { startSandbox } from 'axios-servicetitan-auth/testing';

async function main(): Promise<void> {
  const sandbox = await startSandbox();
  try {
    const client = createServiceTitanClient({ ...sandbox.clientOptions });
    let customers = 0;
    for await (const _ of paginate(client, '/crm/v2/tenant/{tenant}/customers', { pageSize: 50 })) customers += 1;
    if (customers === 0 || sandbox.token.count !== 1) throw new Error(`${customers} customers, ${sandbox.token.count} token requests`);
    console.log(`${customers} customers, ${sandbox.token.count} token request`);
  } finally {
    await sandbox.close();
  }
}
main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
TS
banner="import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);"
common=(bundle-app/app.ts --bundle --platform=node --log-level=warning)
"$esbuild" "${common[@]}" --format=esm --banner:js="$banner" --outfile=bundle-app/out/app.mjs
"$esbuild" "${common[@]}" --format=esm --packages=external --outfile=bundle-app/external.mjs
"$esbuild" "${common[@]}" --format=cjs --outfile=bundle-app/out/app.cjs
"$esbuild" "${common[@]}" --format=esm --outfile=bundle-app/out/no-banner.mjs

# Self-contained bundles run from a directory with no node_modules above it.
standalone=$(mktemp -d)
trap 'rm -rf "$standalone"' EXIT
cp bundle-app/out/* "$standalone/"
(cd "$standalone" && node app.mjs) | sed 's/^/  esm (createRequire banner): /'
(cd "$standalone" && node app.cjs) | sed 's/^/  cjs: /'
node bundle-app/external.mjs | sed 's/^/  esm (--packages=external): /'
if (cd "$standalone" && node no-banner.mjs) >/dev/null 2>"$standalone/err"; then
  echo "the ESM bundle without the createRequire banner ran: drop the warning of docs/getting-started.md"; exit 1
fi
grep -q 'Dynamic require of' "$standalone/err" || { cat "$standalone/err"; exit 1; }
echo "bundles ok (esm + banner, esm + --packages=external, cjs; esm without the banner fails as documented)"
