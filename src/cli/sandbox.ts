import { envVariableNames } from '../env-options';
import { startSandbox, type Sandbox, type SandboxOptions } from '../testing';
import { integerFlag, stringFlag, type Flags } from './args';
import { CliError, ExitCode } from './exit-codes';
import type { CliIo } from './io';
import { formatRows, shellQuote, writeError, writeJson, writeJsonError } from './output';

/**
 * `sandbox`: runs the ServiceTitan emulator of `axios-servicetitan-auth/testing` on 127.0.0.1
 * until SIGINT / SIGTERM (or `io.signal`), printing its URLs, credentials and how to use them.
 */
export async function runSandbox(flags: Flags, io: CliIo): Promise<number> {
  const options = sandboxOptions(flags);
  let sandbox: Sandbox;
  try {
    sandbox = await startSandbox(options);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const code = /EADDRINUSE|EACCES/.test(message) ? ExitCode.unreachable : ExitCode.usage;
    if (flags['json'] === true) writeJsonError(io, new CliError(code, 'sandbox_failed', message));
    else writeError(io, `could not start the sandbox: ${message}`);
    return code;
  }
  const stopped = waitForStop(io);
  if (flags['json'] === true) writeJson(io, describe(sandbox));
  else io.stdout.write(banner(sandbox));
  const reason = await stopped;
  await sandbox.close();
  if (flags['json'] !== true) io.stderr.write(`sandbox stopped (${reason})\n`);
  return ExitCode.ok;
}

function sandboxOptions(flags: Flags): SandboxOptions {
  const options: SandboxOptions = {};
  const apiPort = integerFlag(flags, 'port', 0, 65_535);
  const authPort = integerFlag(flags, 'auth-port', 0, 65_535);
  if (apiPort !== undefined) options.apiPort = apiPort;
  if (authPort !== undefined) options.authPort = authPort;
  if (apiPort !== undefined && apiPort !== 0 && apiPort === authPort) {
    throw new CliError(
      ExitCode.usage,
      'usage',
      '--port and --auth-port must differ (the token endpoint and the API are two origins)',
    );
  }
  const clientId = stringFlag(flags, 'client-id');
  const clientSecret = stringFlag(flags, 'client-secret');
  const tenantId = stringFlag(flags, 'tenant');
  if (clientId !== undefined || clientSecret !== undefined || tenantId !== undefined) {
    options.clients = [
      {
        clientId: clientId ?? 'sandbox-client',
        clientSecret: clientSecret ?? 'sandbox-secret',
        tenantId: tenantId ?? '1000',
      },
    ];
  }
  const appKey = stringFlag(flags, 'app-key');
  if (appKey !== undefined) options.appKey = appKey;
  return options;
}

/** What `sandbox --json` prints: everything needed to point a client at it. */
export type SandboxSettings = Pick<Sandbox, 'authUrl' | 'apiUrl' | 'clientId' | 'clientSecret' | 'appKey' | 'tenantId'>;

/**
 * The `ST_*` variables that point `check`, `token`, the examples and any program using
 * `clientOptionsFromEnv` at a sandbox (the names come from that helper).
 */
export function sandboxEnvironment(settings: SandboxSettings): Record<string, string> {
  const names = envVariableNames();
  return {
    [names.authUrl]: settings.authUrl,
    [names.apiUrl]: settings.apiUrl,
    [names.clientId]: settings.clientId,
    [names.clientSecret]: settings.clientSecret,
    [names.appKey]: settings.appKey,
    [names.tenantId]: settings.tenantId,
  };
}

function describe(sandbox: Sandbox): SandboxSettings {
  return {
    authUrl: sandbox.authUrl,
    apiUrl: sandbox.apiUrl,
    clientId: sandbox.clientId,
    clientSecret: sandbox.clientSecret,
    appKey: sandbox.appKey,
    tenantId: sandbox.tenantId,
  };
}

function banner(sandbox: Sandbox): string {
  const exports = Object.entries(sandboxEnvironment(sandbox))
    .map(([name, value]) => `  export ${name}=${shellQuote(value)}\n`)
    .join('');
  return (
    'ServiceTitan sandbox running on 127.0.0.1 (Ctrl-C to stop)\n' +
    formatRows([
      ['token endpoint', sandbox.authUrl],
      ['API', sandbox.apiUrl],
      ['client id', sandbox.clientId],
      ['client secret', sandbox.clientSecret],
      ['app key', sandbox.appKey],
      ['tenant', sandbox.tenantId],
    ]) +
    '\nIn another shell:\n' +
    exports +
    '  npx axios-servicetitan-auth check\n' +
    '  curl -s -H "Authorization: Bearer $(npx axios-servicetitan-auth token)" -H "ST-App-Key: $ST_APP_KEY" \\\n' +
    '    "$ST_API_URL/crm/v2/tenant/$ST_TENANT_ID/customers?pageSize=2"\n' +
    '\nIn code (reads these variables): createServiceTitanClient(clientOptionsFromEnv())\n'
  );
}

/** Resolves on `io.signal` abort, or on SIGINT / SIGTERM when there is no signal. */
function waitForStop(io: CliIo): Promise<string> {
  const { signal } = io;
  if (signal !== undefined) {
    if (signal.aborted) return Promise.resolve('aborted');
    return new Promise((resolve) => signal.addEventListener('abort', () => resolve('aborted'), { once: true }));
  }
  return new Promise((resolve) => {
    const stop = (name: NodeJS.Signals) => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve(name);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}
