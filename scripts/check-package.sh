#!/usr/bin/env bash
# Installs the packed tarball into a throw-away consumer project and calls into it from
# CommonJS (require) and ESM (import), against the sandbox the package itself ships.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cd "$root"
tarball=$(npm pack --silent --pack-destination "$work" | tail -n 1)
cd "$work"
npm init -y >/dev/null
npm install --silent --no-audit --no-fund "./$tarball" "axios@$(node -p "require('$root/node_modules/axios/package.json').version")" >/dev/null

cat > check.cjs <<'JS'
const { createServiceTitanClient, isServiceTitanAuthError } = require('axios-servicetitan-auth');
const { startSandbox } = require('axios-servicetitan-auth/testing');
(async () => {
  const sandbox = await startSandbox();
  const client = createServiceTitanClient({ environment: sandbox.environment, clientId: sandbox.clientId, clientSecret: sandbox.clientSecret, appKey: sandbox.appKey, tenantId: sandbox.tenantId });
  const { data } = await Promise.all([client.get('/crm/v2/tenant/{tenant}/customers'), client.get('/crm/v2/tenant/{tenant}/customers')]).then((r) => r[0]);
  if (!Array.isArray(data.data) || sandbox.token.count !== 1) throw new Error('require(): unexpected result');
  if (typeof isServiceTitanAuthError !== 'function') throw new Error('require(): missing export');
  await sandbox.close();
  console.log('require() ok');
})().catch((e) => { console.error(e); process.exit(1); });
JS

cat > check.mjs <<'JS'
import { createServiceTitanClient } from 'axios-servicetitan-auth';
import { startSandbox } from 'axios-servicetitan-auth/testing';
const sandbox = await startSandbox();
const client = createServiceTitanClient({ environment: sandbox.environment, clientId: sandbox.clientId, clientSecret: sandbox.clientSecret, appKey: sandbox.appKey, tenantId: sandbox.tenantId });
await Promise.all([client.get('/crm/v2/tenant/{tenant}/customers'), client.get('/crm/v2/tenant/{tenant}/customers')]);
sandbox.revokeAllTokens();
await client.get('/crm/v2/tenant/{tenant}/customers');
if (sandbox.token.count !== 2) throw new Error(`import: expected 2 token requests, saw ${sandbox.token.count}`);
await sandbox.close();
console.log('import ok');
JS

node check.cjs
node check.mjs
echo "package check: require() and import() of $tarball work"
