#!/usr/bin/env bash
# Installs the packed tarball into a throw-away consumer project, as users consume it:
#  (a) require() and (b) import() it and make real calls against the sandbox it ships;
#  (c) type-check a consumer under moduleResolution nodenext (ESM and CJS files) and bundler,
#      with the repo's TypeScript, including the typed per-request option;
#  (d) run the installed `axios-servicetitan-auth` bin: sandbox, check and token;
#  (e) type-check the examples as copied into the project, and run them against that bin's
#      sandbox through the ST_* variables it prints;
#  (f) type-check every code block of README.md and docs/*.md, and run the ones marked `run`
#      against it; then, in a second project made with plain `npm init -y` (CommonJS), run the
#      blocks the docs tell a newcomer to save as a file (the README's first call), as copied;
#  (g) bundle an app with esbuild (ESM and CJS) and run the bundles (scripts/check-bundles.sh).
# One consumer project for all of it: one install.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
plain=$(mktemp -d) # apart from $work: no node_modules of the main consumer above it
sandbox_pid=
cleanup() {
  if [ -n "$sandbox_pid" ]; then kill "$sandbox_pid" 2>/dev/null || true; fi
  rm -rf "$work" "$plain"
}
trap cleanup EXIT

cd "$root"
# `npm pack` would run prepack (a full build); CI has just built, so pack what is in dist/ —
# after checking that it is not older than the source.
if [ ! -f dist/index.js ] || [ -n "$(find src package.json tsup.config.ts -newer dist/index.js -type f | head -n 1)" ]; then
  echo "dist/ is missing or older than src/: run npm run build first"; exit 1
fi
started=$SECONDS
tarball=$(npm pack --silent --ignore-scripts --pack-destination "$work" | tail -n 1)
cd "$work"
npm init -y >/dev/null
npm pkg set type=module # examples and the docs' ts blocks are ES modules with top-level await
version_of() { node -p "require('$root/node_modules/$1/package.json').version"; }
# What a user adds next to the package: axios (peer), ioredis (optional peer), tsx to run
# TypeScript, pino / debug for the Logging section, the OpenTelemetry API and SDK for the
# Observability section. Same versions as the repository's, so the npm cache serves them.
npm install --silent --prefer-offline --no-audit --no-fund "./$tarball" "axios@$(version_of axios)" "@types/node@$(version_of @types/node)" \
  "ioredis@$(version_of ioredis)" "tsx@$(version_of tsx)" "pino@$(version_of pino)" "debug@$(version_of debug)" \
  "@types/debug@$(version_of @types/debug)" \
  "@opentelemetry/api@$(version_of @opentelemetry/api)" "@opentelemetry/sdk-metrics@$(version_of @opentelemetry/sdk-metrics)" \
  "@opentelemetry/sdk-trace-base@$(version_of @opentelemetry/sdk-trace-base)" \
  "@opentelemetry/context-async-hooks@$(version_of @opentelemetry/context-async-hooks)" >/dev/null
echo "consumer project installed in $((SECONDS - started)) s"

cat > check.cjs <<'JS'
const { createServiceTitanClient, isServiceTitanAuthError } = require('axios-servicetitan-auth');
const { startSandbox } = require('axios-servicetitan-auth/testing');
(async () => {
  const sandbox = await startSandbox();
  const client = createServiceTitanClient({ ...sandbox.clientOptions });
  const { data } = await Promise.all([client.get('/crm/v2/tenant/{tenant}/customers'), client.get('/crm/v2/tenant/{tenant}/customers')]).then((r) => r[0]);
  if (!Array.isArray(data.data) || sandbox.token.count !== 1) throw new Error('require(): unexpected result');
  if (typeof isServiceTitanAuthError !== 'function') throw new Error('require(): missing export');
  const { RedisTokenStore } = require('axios-servicetitan-auth/redis');
  if (typeof RedisTokenStore !== 'function') throw new Error('require(): missing RedisTokenStore');
  if (process.env.REDIS_URL) {
    const { Redis } = require('ioredis');
    const redis = new Redis(process.env.REDIS_URL);
    const store = new RedisTokenStore(redis, { keyPrefix: `check-package-${process.pid}:` });
    const shared = createServiceTitanClient({ ...sandbox.clientOptions, store });
    await shared.auth.getToken({ forceRefresh: true });
    if ((await redis.keys(`check-package-${process.pid}:*`)).length !== 1) throw new Error('require(): RedisTokenStore stored nothing');
    await store.close();
    await redis.quit();
  }
  await sandbox.close();
  console.log('require() ok');
})().catch((e) => { console.error(e); process.exit(1); });
JS

cat > check.mjs <<'JS'
import { createServiceTitanClient } from 'axios-servicetitan-auth';
import { startSandbox } from 'axios-servicetitan-auth/testing';
import { RedisTokenStore } from 'axios-servicetitan-auth/redis';
if (typeof RedisTokenStore !== 'function') throw new Error('import: missing RedisTokenStore');
const sandbox = await startSandbox();
const client = createServiceTitanClient({ ...sandbox.clientOptions });
await Promise.all([client.get('/crm/v2/tenant/{tenant}/customers'), client.get('/crm/v2/tenant/{tenant}/customers')]);
sandbox.revokeAllTokens();
await client.get('/crm/v2/tenant/{tenant}/customers');
if (sandbox.token.count !== 2) throw new Error(`import: expected 2 token requests, saw ${sandbox.token.count}`);
await sandbox.close();
console.log('import ok');
JS

node check.cjs
node check.mjs

# (b1) Every value each .d.ts / .d.cts declares exists at run time, for every entry point, in
# the ESM and the CJS build (tsc must never accept an import that Node then refuses).
node "$root/scripts/check-exports.mjs" --project .

# (b2) Both builds in one process (one dependency require()s the package, another import()s it):
# a second attach through the other build is refused, and errors are instanceof across builds.
cat > dual.mjs <<'JS'
import { createRequire } from 'node:module';
import axios from 'axios';
const cjs = createRequire(import.meta.url)('axios-servicetitan-auth');
const esm = await import('axios-servicetitan-auth');
if (cjs.ServiceTitanAuthError === esm.ServiceTitanAuthError) throw new Error('dual: expected two copies');
const options = { clientId: 'cid', clientSecret: 'secret', appKey: 'key', environment: 'integration' };
const instance = axios.create();
cjs.attachServiceTitanAuth(instance, options);
let refused;
try {
  esm.attachServiceTitanAuth(instance, options);
} catch (error) {
  refused = error;
}
if (refused?.code !== 'invalid_config') throw new Error('dual: a second attach through the other build was accepted');
if (!(refused instanceof cjs.ServiceTitanAuthError)) throw new Error('dual: instanceof fails across builds');
console.log('dual load ok');
JS
node dual.mjs

# (c) Types, as a TypeScript consumer sees them. The same source is checked as an ES module
# (.mts) and as CommonJS (.cts) under nodenext, and as a plain .ts under bundler. `skip: 'yes'`
# must NOT compile: if it did, the @ts-expect-error line itself becomes the error.
cat > consumer.ts <<'TS'
import axios from 'axios';
import {
  attachServiceTitanAuth,
  createServiceTitanClient,
  environments,
  isServiceTitanAuthError,
  MemoryTokenStore,
  ServiceTitanAuthError,
  type ServiceTitanAuthOptions,
  type ServiceTitanClient,
} from 'axios-servicetitan-auth';
import { startSandbox, type Sandbox } from 'axios-servicetitan-auth/testing';
import { RedisTokenStore } from 'axios-servicetitan-auth/redis';
import { Redis } from 'ioredis';

const options: ServiceTitanAuthOptions = {
  clientId: 'cid',
  clientSecret: 'secret',
  appKey: 'key',
  environment: 'integration',
  store: new MemoryTokenStore(),
};
const api = axios.create({ baseURL: environments.integration.apiUrl });
const auth = attachServiceTitanAuth(api, options);
export const token: Promise<string> = auth.getToken({ forceRefresh: true });
export const skipped = api.get('/public', { serviceTitanAuth: { skip: true } });
// @ts-expect-error skip is a boolean
export const wrong = api.get('/public', { serviceTitanAuth: { skip: 'yes' } });
export const client: ServiceTitanClient = createServiceTitanClient({ ...options, tenantId: 123 });
export const shared = createServiceTitanClient({ ...options, store: new RedisTokenStore(new Redis({ lazyConnect: true }), { keyPrefix: 'x:' }) });
export function code(error: unknown): string | undefined {
  return isServiceTitanAuthError(error) ? error.code : error instanceof ServiceTitanAuthError ? 'never' : undefined;
}
export async function sandboxUrl(): Promise<string> {
  const sandbox: Sandbox = await startSandbox();
  await sandbox.close();
  return sandbox.apiUrl;
}
TS
cp consumer.ts consumer.mts
cp consumer.ts consumer.cts
common='"strict": true, "noEmit": true, "skipLibCheck": false, "types": ["node"], "target": "es2022", "lib": ["es2023"]'
cat > tsconfig.nodenext.json <<JSON
{ "compilerOptions": { "module": "nodenext", "moduleResolution": "nodenext", $common }, "files": ["consumer.mts", "consumer.cts"] }
JSON
cat > tsconfig.bundler.json <<JSON
{ "compilerOptions": { "module": "esnext", "moduleResolution": "bundler", $common }, "files": ["consumer.ts"] }
JSON
"$root/node_modules/.bin/tsc" -p tsconfig.nodenext.json
"$root/node_modules/.bin/tsc" -p tsconfig.bundler.json
echo "types ok (nodenext: .mts and .cts; bundler: .ts; tsc $("$root/node_modules/.bin/tsc" --version | cut -d' ' -f2))"

# (d) The installed bin: start the sandbox, point check and token at it, stop it with SIGTERM.
bin=./node_modules/.bin/axios-servicetitan-auth
[ "$("$bin" --version)" = "$(node -p "require('$root/package.json').version")" ]
"$bin" sandbox --json >sandbox.json 2>sandbox.err &
sandbox_pid=$!
for _ in $(seq 1 100); do
  [ -s sandbox.json ] && break
  sleep 0.1
done
eval "$(node -e '
  const s = JSON.parse(require("fs").readFileSync("sandbox.json", "utf8"));
  const vars = { ST_AUTH_URL: s.authUrl, ST_API_URL: s.apiUrl, ST_CLIENT_ID: s.clientId,
    ST_CLIENT_SECRET: s.clientSecret, ST_APP_KEY: s.appKey, ST_TENANT_ID: s.tenantId };
  for (const [k, v] of Object.entries(vars)) console.log(`export ${k}=${JSON.stringify(v)}`);
')"
"$bin" check >check.out
grep -q 'App key and tenant: OK' check.out
token=$("$bin" token)
[ "$(printf '%s' "$token" | tr -cd '.' | wc -c)" -eq 2 ]
set +e
ST_CLIENT_SECRET=wrong "$bin" check >/dev/null 2>&1
bad_secret=$?
set -e
[ "$bad_secret" -eq 3 ] || { echo "bin: a bad secret exited $bad_secret, expected 3"; exit 1; }

# (e) The examples, copied into the project as a user would: type-checked against the installed
# package (no paths, no src/), then run from the project with tsx, pointed at the bin's sandbox.
cp -R "$root/examples" ./examples
cat > tsconfig.examples.json <<JSON
{ "compilerOptions": { "module": "nodenext", "moduleResolution": "nodenext", "target": "es2022", "lib": ["es2023"],
  "types": ["node"], "strict": true, "exactOptionalPropertyTypes": true, "noUncheckedIndexedAccess": true,
  "noEmit": true, "skipLibCheck": true }, "include": ["examples/*.ts"] }
JSON
"$root/node_modules/.bin/tsc" -p tsconfig.examples.json
echo "examples type-check in the consumer project"
node "$root/scripts/run-examples.mjs" --cwd . --use-st-env

# (f) The code blocks of the README and the guides.
node "$root/scripts/check-readme-snippets.mjs" --project . --run

# (f2) A newcomer's project: `npm init -y` (CommonJS by default) and nothing else but what the
# README says: install the package and axios, save the first call under the name the text gives
# (`<!-- snippet: …; file: customers.mjs -->`), run it with node. Against the bin's sandbox.
(
  cd "$plain"
  npm init -y >/dev/null
  [ "$(node -p 'require("./package.json").type ?? "commonjs"')" = commonjs ] || { echo "npm init -y did not make a CommonJS project"; exit 1; }
  npm install --silent --prefer-offline --no-audit --no-fund "$work/$tarball" "axios@$(version_of axios)" >/dev/null
  files=$(node "$root/scripts/check-readme-snippets.mjs" --files-into .)
  [ -n "$files" ] || { echo "no doc block is marked file:"; exit 1; }
  for file in $files; do
    node "$file" >"$file.out" 2>&1 || { echo "plain npm init -y project: node $file failed:"; cat "$file.out"; exit 1; }
    echo "ok plain npm init -y project: node $file"
  done
)

kill -TERM "$sandbox_pid"
wait "$sandbox_pid"
sandbox_pid=
echo "bin ok (sandbox, check, token, exit code 3 on a bad secret, clean stop on SIGTERM)"

# (g) Bundles.
bash "$root/scripts/check-bundles.sh" .

echo "package check: require() and import() of $tarball work, its types check, its bin runs, the examples and the docs' code blocks type-check and run in a consumer project, the README's first call runs as copied in a plain npm init -y project, and its bundles run"
