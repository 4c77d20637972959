/**
 * A tour of axios-servicetitan-auth in three scenes: a burst on a cold client, a revocation,
 * and renewal ahead of expiry.
 *
 *   npm run demo
 *     runs against the embedded sandbox (a local ServiceTitan emulator); nothing to set up.
 *
 *   ST_CLIENT_ID=… ST_CLIENT_SECRET=… ST_APP_KEY=… ST_TENANT_ID=… ST_ENVIRONMENT=integration|production npm run demo
 *     runs against real ServiceTitan (the ST_ENVIRONMENT you name; there is no default), or against
 *     whatever ST_AUTH_URL / ST_API_URL point at (e.g. `npx axios-servicetitan-auth sandbox`);
 *     it only reads customers. No token or secret is ever printed.
 */
import {
  clientOptionsFromEnv,
  createServiceTitanClient,
  isServiceTitanAuthError,
  type ServiceTitanClient,
  type ServiceTitanClientOptions,
  type ServiceTitanLogger,
} from 'axios-servicetitan-auth';
import { startSandbox, type Sandbox } from 'axios-servicetitan-auth/testing';

const CUSTOMERS = '/crm/v2/tenant/{tenant}/customers';

/** Counts the library's 'token obtained' events: one per token request that succeeded. */
function tokenCounter() {
  let count = 0;
  const waiters: Array<{ resolve: () => void; reject: (error: Error) => void }> = [];
  const logger: ServiceTitanLogger = {
    info(message) {
      if (message !== 'token obtained') return;
      count += 1;
      for (const waiter of waiters.splice(0)) waiter.resolve();
    },
    warn(message) {
      for (const waiter of waiters.splice(0)) waiter.reject(new Error(message));
    },
  };
  return {
    logger,
    get count() {
      return count;
    },
    /** Resolves on the next token obtained, rejects if a background renewal fails instead. */
    next: () => new Promise<void>((resolve, reject) => waiters.push({ resolve, reject })),
  };
}

const line = (label: string, value: unknown) => console.log(`   ${label.padEnd(22)} ${String(value)}`);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const calls = (client: ServiceTitanClient, n: number) =>
  Promise.all(Array.from({ length: n }, () => client.get(CUSTOMERS, { params: { pageSize: 5 } })));
const ok = (responses: { status: number }[]) =>
  `${responses.filter((r) => r.status === 200).length}/${responses.length}`;
/** Token ids the sandbox saw in API requests, in order, e.g. 'tok-1 → tok-2'. */
const tokenIds = (sandbox: Sandbox) => [...new Set(sandbox.api.requests.map((r) => r.tokenId))].join(' → ');

async function main(): Promise<void> {
  // The ST_* variables when any is set (all of them, or a typed error naming what is missing).
  const fromEnv = clientOptionsFromEnv({ optional: true, requireTenantId: true });
  if (fromEnv === undefined) await sandboxDemo();
  else await liveDemo(fromEnv);
  console.log('\ndemo OK');
}

async function sandboxDemo(): Promise<void> {
  const sandbox = await startSandbox();
  const renewalSandbox = await startSandbox({ tokenLifetimeMs: 3_000 });
  try {
    const options = (s: Sandbox): ServiceTitanClientOptions => ({
      clientId: s.clientId,
      clientSecret: s.clientSecret,
      appKey: s.appKey,
      environment: s.environment,
      tenantId: s.tenantId,
    });
    console.log('axios-servicetitan-auth demo: local sandbox (ServiceTitan emulator)');
    console.log(`   token endpoint ${sandbox.authUrl}, API ${sandbox.apiUrl}, tenant ${sandbox.tenantId}`);

    const client = createServiceTitanClient(options(sandbox));
    console.log('\na. Burst: 25 concurrent GETs on a cold client');
    let started = performance.now();
    line('requests ok', ok(await calls(client, 25)));
    line('token requests', sandbox.token.count);
    line('time', `${Math.round(performance.now() - started)} ms`);

    console.log('\nb. Revocation: every token revoked, then 10 concurrent GETs');
    sandbox.resetCounters();
    sandbox.revokeAllTokens();
    const revoked = await calls(client, 10);
    const answered = sandbox.api.requests;
    line('401s from the API', answered.filter((r) => r.status === 401).length);
    line('token requests', sandbox.token.count);
    line('replays that got 200', answered.filter((r) => r.status === 200).length);
    line('requests ok', ok(revoked));
    line('tokens used', tokenIds(sandbox));

    console.log('\nc. Renewal ahead of expiry: token lifetime 3 s, refreshBufferMs 2000');
    const tokens = tokenCounter();
    const renewing = createServiceTitanClient({
      ...options(renewalSandbox),
      refreshBufferMs: 2_000,
      logger: tokens.logger,
    });
    await calls(renewing, 1);
    line('first GET', `200 with ${tokenIds(renewalSandbox)}`);
    // Renewal starts at expiry - min(buffer, lifetime / 2) = 1.5 s after the token was requested.
    await sleep(1_600);
    const hold = renewalSandbox.token.hold(); // holds the renewal at the token endpoint: nobody may wait for it
    started = performance.now();
    const early = await calls(renewing, 3);
    const ms = Math.round(performance.now() - started);
    await hold.untilWaiting(1);
    line('1.6 s later, 3 GETs', `${ok(early)} in ${ms} ms with ${tokenIds(renewalSandbox)}, renewal still held`);
    const renewed = tokens.next();
    hold.release();
    await renewed;
    renewalSandbox.resetCounters();
    await calls(renewing, 1);
    line('after the renewal', `200 with ${tokenIds(renewalSandbox)}`);
    line('token requests', tokens.count);
  } finally {
    await Promise.all([sandbox.close(), renewalSandbox.close()]);
  }
}

async function liveDemo(options: ServiceTitanClientOptions): Promise<void> {
  const tokens = tokenCounter();
  const client = createServiceTitanClient({ ...options, logger: tokens.logger });
  const target =
    typeof options.environment === 'string' ? `ServiceTitan ${options.environment}` : options.environment.apiUrl;
  console.log(`axios-servicetitan-auth demo: ${target}, tenant ${String(options.tenantId)}`);

  console.log('\na. Burst: 25 concurrent GETs on a cold client');
  const started = performance.now();
  line('requests ok', ok(await calls(client, 25)));
  line('token requests', tokens.count);
  line('time', `${Math.round(performance.now() - started)} ms`);

  console.log('\nb. Renewal on demand (a real token cannot be revoked here: auth.invalidate() instead)');
  const before = tokens.count;
  await client.auth.invalidate();
  line('requests ok', ok(await calls(client, 10)));
  line('token requests', tokens.count - before);

  console.log('\nc. Renewal ahead of expiry: skipped (real tokens live 900 s; the sandbox shows it)');
}

main().catch((error: unknown) => {
  // The library's errors carry no token or secret; axios errors it passes on are redacted.
  const code = isServiceTitanAuthError(error) ? ` [${error.code}]` : '';
  console.error(`\ndemo FAILED${code}:`, error instanceof Error ? `${error.name}: ${error.message}` : error);
  process.exitCode = 1;
});
