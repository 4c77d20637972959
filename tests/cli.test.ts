import { spawnSync } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import axios from 'axios';
import { ServiceTitanAuthError } from '../src';
import { main, type CliIo } from '../src/cli/main';
import type { ConnectionConfig } from '../src/cli/config';
import { readTokenClaims } from '../src/cli/claims';
import { sandboxEnvironment } from '../src/cli/sandbox';
import { tokenFailure } from '../src/cli/session';
import { version } from '../package.json';
import type { Sandbox } from '../src/testing';
import { BAD_VALUES, SECRET as MISPLACED } from './helpers/misplaced-secrets';
import { useSandbox } from './helpers/sandbox';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the CLI in-process with the given environment variables only. */
async function run(argv: string[], env: Record<string, string | undefined> = {}, signal?: AbortSignal): Promise<Run> {
  let stdout = '';
  let stderr = '';
  const io: CliIo = {
    stdout: { write: (text: string) => (stdout += text) },
    stderr: { write: (text: string) => (stderr += text) },
    env,
    ...(signal === undefined ? {} : { signal }),
  };
  const code = await main(argv, io);
  return { code, stdout, stderr };
}

/** Starts a command that runs until aborted (`sandbox`), capturing its standard output. */
function startLongRunning(argv: string[]) {
  const controller = new AbortController();
  let stdout = '';
  const io: CliIo = {
    stdout: { write: (text: string) => (stdout += text) },
    stderr: { write: () => true },
    env: {},
    signal: controller.signal,
  };
  const running = main(argv, io);
  return {
    stdout: () => stdout,
    /** Resolves once the output contains `text`. */
    until: async (text: string) => {
      while (!stdout.includes(text)) await new Promise((resolve) => setTimeout(resolve, 10));
    },
    /** Aborts the command and resolves to its exit code. */
    stop: () => {
      controller.abort();
      return running;
    },
  };
}

/** The ST_* variables that point the CLI at a sandbox. */
function sandboxEnv(
  sandbox: Sandbox,
  overrides: Record<string, string | undefined> = {},
): Record<string, string | undefined> {
  return { ...sandboxEnvironment(sandbox), ...overrides };
}

/** A loopback port nobody listens on. */
async function closedPort(): Promise<number> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('cli check', () => {
  const sandbox = useSandbox();

  it('shows environment, expiry, tenant, client id and scopes, proves the app key, and prints neither token nor secret', async () => {
    const result = await run(['check'], sandboxEnv(sandbox()));
    expect(result.code).toBe(0);
    expect(result.stderr).toBe('');
    expect(result.stdout).toContain('Token: OK');
    expect(result.stdout).toMatch(/tenant\s+1000/);
    expect(result.stdout).toContain(sandbox().clientId);
    expect(result.stdout).toContain('tn.crm.customers:r tn.jpm.jobs:r');
    expect(result.stdout).toMatch(/expires\s+in 15 min \(at \d{4}-/);
    expect(result.stdout).toContain(sandbox().authUrl);
    expect(result.stdout).toMatch(
      /App key and tenant: OK \(GET \/crm\/v2\/tenant\/1000\/customers\?pageSize=1 -> 200\)/,
    );
    expect(result.stdout).not.toContain('eyJ');
    expect(result.stdout).not.toContain(sandbox().clientSecret);
    expect(result.stdout).not.toContain(sandbox().appKey);
    expect(sandbox().token.count).toBe(1);
    expect(sandbox().api.requests.map((r) => r.appKey)).toEqual([sandbox().appKey]);
  });

  it('flags win over variables, and the tenant comes from the token when none is given', async () => {
    const s = sandbox();
    const result = await run(
      [
        'check',
        '--auth-url',
        s.authUrl,
        '--api-url',
        s.apiUrl,
        '--client-id',
        s.clientId,
        '--client-secret',
        s.clientSecret,
        '--app-key',
        s.appKey,
      ],
      { ST_ENVIRONMENT: 'production', ST_CLIENT_ID: 'other', ST_CLIENT_SECRET: 'other', ST_APP_KEY: 'ak.x' },
    );
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('tenant from the token');
  });

  it('without an app key it exits 2 naming the flag and the variable, before any request', async () => {
    const result = await run(['check'], sandboxEnv(sandbox(), { ST_APP_KEY: undefined }));
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(
      'app key (--app-key or ST_APP_KEY; ServiceTitan refuses every API call without it)',
    );
    expect(sandbox().api.count + sandbox().token.count).toBe(0);
  });

  it('a bad secret exits 3 with a message naming the client id and what to check', async () => {
    const result = await run(['check'], sandboxEnv(sandbox(), { ST_CLIENT_SECRET: 'wrong-secret' }));
    expect(result.code).toBe(3);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain(`rejected client id "${sandbox().clientId}" (400 invalid_client)`);
    expect(result.stderr).toContain('check the client id/secret');
    expect(result.stderr).not.toContain('wrong-secret');
    expect(sandbox().token.count).toBe(1); // never retried
  });

  it('on a named environment, a rejected secret suggests the other environment', () => {
    const config: ConnectionConfig = {
      environmentName: 'integration',
      environment: 'integration',
      authUrl: 'https://auth-integration.servicetitan.io/connect/token',
      apiUrl: 'https://api-integration.servicetitan.io',
      clientId: 'cid.x',
      clientSecret: 's',
      appKey: 'ak.x',
      tenantId: undefined,
      timeoutMs: 1000,
    };
    const error = tokenFailure(
      new ServiceTitanAuthError('invalid_client', 'rejected', { status: 400, oauthError: 'invalid_client' }),
      config,
    );
    expect(error.exitCode).toBe(3);
    expect(error.message).toContain('check the client id/secret and that they belong to integration');
    expect(error.message).toContain('use --environment production');
  });

  it('missing credentials exit 2 naming the flag and variable of each', async () => {
    const onlyId = await run(['check'], { ST_CLIENT_ID: 'cid.x' });
    expect(onlyId.code).toBe(2);
    expect(onlyId.stderr).toContain('missing credentials: client secret (--client-secret or ST_CLIENT_SECRET)');
    const none = await run(['check'], {});
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('ST_CLIENT_ID');
    expect(none.stderr).toContain('ST_CLIENT_SECRET');
  });

  it('credentials without an environment exit 2 naming --environment and ST_ENVIRONMENT, before any request', async () => {
    // Before issue 19 item 3 this went to integration's token endpoint, whatever the credentials were for.
    const s = sandbox();
    const result = await run(['check'], {
      ST_CLIENT_ID: s.clientId,
      ST_CLIENT_SECRET: s.clientSecret,
      ST_APP_KEY: s.appKey,
    });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(
      'no environment: pass --environment integration or --environment production (or set ST_ENVIRONMENT)',
    );
    expect(result.stderr).not.toContain(s.clientSecret);
    expect(s.api.count + s.token.count).toBe(0);
  });

  it('configuration errors exit 2: unknown environment, half a custom environment, http on a public host', async () => {
    const creds = { ST_CLIENT_ID: 'cid.x', ST_CLIENT_SECRET: 's', ST_APP_KEY: 'ak.x' };
    expect((await run(['check', '--environment', 'staging'], creds)).stderr).toContain(
      '--environment must be "integration" or "production"',
    );
    expect((await run(['check', '--auth-url', 'http://127.0.0.1:1/connect/token'], creds)).code).toBe(2);
    const cleartext = await run(
      ['check', '--auth-url', 'http://example.com/connect/token', '--api-url', 'https://example.com'],
      creds,
    );
    expect(cleartext.code).toBe(2);
    expect(cleartext.stderr).toContain('--auth-url must use https:');
    expect(cleartext.stderr).not.toContain('example.com');
  });

  it('an unreachable token endpoint exits 4', async () => {
    const port = await closedPort();
    const result = await run(
      ['check', '--auth-url', `http://127.0.0.1:${port}/connect/token`, '--api-url', `http://127.0.0.1:${port}`],
      { ST_CLIENT_ID: 'cid.x', ST_CLIENT_SECRET: 's', ST_APP_KEY: 'ak.x' },
    );
    expect(result.code).toBe(4);
    expect(result.stderr).toContain('ECONNREFUSED');
    expect(result.stderr).toContain(`127.0.0.1:${port}/connect/token`);
  });

  it('a token endpoint answering 503 exits 4 after the retries', async () => {
    sandbox().token.enqueue({ status: 503, times: 3 });
    const result = await run(['check'], sandboxEnv(sandbox()));
    expect(result.code).toBe(4);
    expect(result.stderr).toContain('503');
  });

  it('a wrong app key exits 5', async () => {
    const result = await run(['check'], sandboxEnv(sandbox(), { ST_APP_KEY: 'ak1.wrong' }));
    expect(result.code).toBe(5);
    expect(result.stdout).toContain('Token: OK');
    expect(result.stderr).toContain('401');
    expect(result.stderr).toContain('check the app key (--app-key or ST_APP_KEY)');
    // The API's traceId, for ServiceTitan support (the probe's 401 is a problem body).
    expect(result.stderr).toMatch(/\(traceId [0-9a-f]{32}\)/);
    expect(result.stderr).not.toContain('ak1.wrong');
    expect(sandbox().token.count).toBe(1); // a 401 on a fresh token is not "renew and replay"
  });

  it('a tenant the token is not for exits 5 with a warning', async () => {
    const result = await run(['check', '--tenant', '999'], sandboxEnv(sandbox()));
    expect(result.code).toBe(5);
    expect(result.stderr).toContain("is not the token's tenant claim (1000)");
    expect(result.stderr).toContain('403');
  });

  it('--json prints one object, without token or secret', async () => {
    const result = await run(['check', '--json'], sandboxEnv(sandbox()));
    expect(result.code).toBe(0);
    expect(result.stdout.trim().split('\n')).toHaveLength(1);
    const report = JSON.parse(result.stdout);
    expect(report).toEqual({
      ok: true,
      exitCode: 0,
      environment: 'custom',
      authUrl: sandbox().authUrl,
      apiUrl: sandbox().apiUrl,
      warnings: [],
      token: {
        fingerprint: expect.stringMatching(/^[0-9a-f]{8}$/),
        expiresAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
        expiresInSeconds: expect.any(Number),
        format: 'jwt',
        tenant: '1000',
        clientId: sandbox().clientId,
        scopes: ['tn.crm.customers:r', 'tn.jpm.jobs:r'],
        issuer: expect.any(String),
      },
      probe: {
        checked: true,
        method: 'GET',
        path: '/crm/v2/tenant/1000/customers?pageSize=1',
        tenant: '1000',
        tenantFrom: 'option',
        status: 200,
        ok: true,
      },
    });
    expect(report.token.expiresInSeconds).toBeGreaterThan(890);
    expect(result.stdout).not.toContain(sandbox().clientSecret);
    expect(result.stdout).not.toContain(sandbox().appKey);
  });

  it('--json on failure prints the error code and exit code', async () => {
    const result = await run(['check', '--json'], sandboxEnv(sandbox(), { ST_CLIENT_SECRET: 'nope' }));
    expect(result.code).toBe(3);
    expect(result.stderr).toBe('');
    const report = JSON.parse(result.stdout);
    expect(report).toMatchObject({ ok: false, exitCode: 3, error: { code: 'invalid_client' } });
    expect(report.token).toBeUndefined();
    const missing = JSON.parse((await run(['check', '--json'], {})).stdout);
    expect(missing).toMatchObject({ ok: false, exitCode: 2, error: { code: 'missing_credentials' } });
  });

  it('--print-token adds the token, which the API accepts', async () => {
    const result = await run(['check', '--json', '--print-token'], sandboxEnv(sandbox()));
    const { token } = JSON.parse(result.stdout);
    const response = await axios.get(`${sandbox().apiUrl}/crm/v2/tenant/1000/customers`, {
      headers: { Authorization: `Bearer ${token.accessToken}`, 'ST-App-Key': sandbox().appKey },
    });
    expect(response.status).toBe(200);
    const human = await run(['check', '--print-token'], sandboxEnv(sandbox()));
    expect(human.stdout).toMatch(/access token\s+eyJ/);
  });

  it('--probe-path chooses the probe; a path the API does not serve exits 4', async () => {
    const ok = await run(['check', '--probe-path', '/telecom/v3/tenant/{tenant}/calls'], sandboxEnv(sandbox()));
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain('GET /telecom/v3/tenant/1000/calls -> 200');
    const missing = await run(['check', '--probe-path', '/nope/v2/tenant/{tenant}/things'], sandboxEnv(sandbox()));
    expect(missing.code).toBe(4);
    expect(missing.stderr).toContain('404');
    expect((await run(['check', '--probe-path', 'https://example.com/x'], sandboxEnv(sandbox()))).code).toBe(2);
  });
});

describe('cli token', () => {
  const sandbox = useSandbox();

  it('prints only the token, which the API accepts', async () => {
    const result = await run(['token'], sandboxEnv(sandbox()));
    expect(result.code).toBe(0);
    expect(result.stderr).toBe('');
    expect(result.stdout).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+\n$/);
    const response = await axios.get(`${sandbox().apiUrl}/crm/v2/tenant/1000/customers`, {
      headers: { Authorization: `Bearer ${result.stdout.trim()}`, 'ST-App-Key': sandbox().appKey },
    });
    expect(response.status).toBe(200);
  });

  it('--json prints {access_token, expires_at}', async () => {
    const result = await run(['token', '--json'], sandboxEnv(sandbox()));
    const parsed = JSON.parse(result.stdout);
    expect(Object.keys(parsed).sort()).toEqual(['access_token', 'expires_at']);
    expect(Date.parse(parsed.expires_at) - Date.now()).toBeGreaterThan(890_000);
  });

  it('needs the app key like check: exit 2 naming it, before any request', async () => {
    const result = await run(['token'], sandboxEnv(sandbox(), { ST_APP_KEY: undefined }));
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain('missing credentials: app key (--app-key or ST_APP_KEY');
    expect(sandbox().token.count).toBe(0);
  });

  it('failures go to stderr with the exit codes of check, and nothing to stdout', async () => {
    const result = await run(['token'], sandboxEnv(sandbox(), { ST_CLIENT_SECRET: 'bad' }));
    expect(result.code).toBe(3);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain('invalid_client');
  });
});

describe('cli sandbox', () => {
  it('runs until aborted, printing URLs and credentials that check accepts', async () => {
    const cli = startLongRunning(['sandbox', '--json']);
    await cli.until('\n');
    const info = JSON.parse(cli.stdout());
    expect(Object.keys(info).sort()).toEqual(['apiUrl', 'appKey', 'authUrl', 'clientId', 'clientSecret', 'tenantId']);
    const checked = await run(['check'], sandboxEnvironment(info));
    expect(checked.code).toBe(0);
    expect(await cli.stop()).toBe(0);
    await expect(axios.get(info.apiUrl, { httpAgent: new http.Agent({ keepAlive: false }) })).rejects.toMatchObject({
      code: 'ECONNREFUSED',
    });
  });

  it('prints export lines and a curl example; fixed credentials are honoured', async () => {
    const cli = startLongRunning([
      'sandbox',
      '--client-id',
      'my-client',
      '--client-secret',
      'my-secret',
      '--app-key',
      'my-key',
    ]);
    await cli.until('curl');
    expect(await cli.stop()).toBe(0);
    const stdout = cli.stdout();
    expect(stdout).toContain('export ST_CLIENT_ID=my-client');
    expect(stdout).toContain('export ST_CLIENT_SECRET=my-secret');
    expect(stdout).toContain('export ST_APP_KEY=my-key');
    expect(stdout).toContain('export ST_TENANT_ID=1000');
    expect(stdout).toMatch(/export ST_AUTH_URL=http:\/\/127\.0\.0\.1:\d+\/connect\/token/);
  });
});

describe('cli usage', () => {
  it('--help, -h and <command> --help print help and exit 0', async () => {
    const tool = await run(['--help']);
    expect(tool.code).toBe(0);
    expect(tool.stdout).toContain('Usage:');
    expect(tool.stdout).toContain('Exit codes:');
    expect((await run(['-h'])).stdout).toBe(tool.stdout);
    for (const command of ['check', 'token', 'sandbox']) {
      const help = await run([command, '--help']);
      expect(help.code).toBe(0);
      expect(help.stdout).toContain(`Usage: axios-servicetitan-auth ${command}`);
      expect((await run(['help', command])).stdout).toBe(help.stdout);
    }
  });

  it('help says what the commands do: the app key is required by check and token', async () => {
    for (const command of ['check', 'token']) {
      const help = (await run([command, '--help'])).stdout;
      expect(help).toMatch(/--app-key <key> +the application key, sent as ST-App-Key \(required/);
      // Nothing may present the app key as optional: both commands exit 2 without it.
      expect(help).not.toMatch(/with an app key|app key is optional|optional.*app key/i);
    }
    expect((await run(['check', '--help'])).stdout).toContain('The client id, secret and app key are\nrequired');
  });

  it('sandbox help shows how to fix the ports', async () => {
    const help = (await run(['sandbox', '--help'])).stdout;
    expect(help).toContain('npx axios-servicetitan-auth sandbox --port 4010 --auth-port 4011');
  });

  it('--version prints the package version', async () => {
    expect(await run(['--version'])).toEqual({ code: 0, stdout: `${version}\n`, stderr: '' });
  });

  it('unknown commands and flags exit 2 and point at --help', async () => {
    const command = await run(['frobnicate']);
    expect(command.code).toBe(2);
    expect(command.stderr).toContain('argument 1 is not a command: expected one of check, sandbox, token');
    const flag = await run(['check', '--client-secert', 'x']);
    expect(flag.code).toBe(2);
    expect(flag.stderr).toContain(
      'argument 2 is an unknown option (its text is not shown); did you mean --client-secret?',
    );
    expect(flag.stderr).toContain('--help');
    expect((await run(['check', 'extra'])).code).toBe(2);
    expect((await run(['check', '--timeout', 'soon', '--client-id', 'a', '--client-secret', 'b'])).code).toBe(2);
  });

  it('the bin entry runs as a child process', () => {
    const root = path.resolve(__dirname, '..');
    const child = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/bin.ts', '--help'], {
      cwd: root,
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(child.stderr).toBe('');
    expect(child.status).toBe(0);
    expect(child.stdout).toContain('axios-servicetitan-auth <command> [options]');
    const bad = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/bin.ts', 'check'], {
      cwd: root,
      encoding: 'utf8',
      timeout: 30_000,
      env: { PATH: process.env['PATH'] ?? '' },
    });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('ST_CLIENT_ID');
  });
});

describe('cli with an absurd expires_in (1e13 s, past the end of JavaScript dates)', () => {
  const sandbox = useSandbox({ tokenLifetimeMs: 1e16 });

  it('token --json and check do not crash: the library clamps the lifetime to 24 h', async () => {
    const token = await run(['token', '--json'], sandboxEnv(sandbox()));
    expect(token).toMatchObject({ code: 0, stderr: '' });
    const left = Date.parse(JSON.parse(token.stdout).expires_at) - Date.now();
    expect(left).toBeGreaterThan(86_400_000 - 60_000);
    expect(left).toBeLessThanOrEqual(86_400_000);

    const check = await run(['check'], sandboxEnv(sandbox()));
    expect(check).toMatchObject({ code: 0, stderr: '' });
    expect(check.stdout).toMatch(/expires\s+in (23 h 59 min|24 h) \(at \d{4}-/);
  });

  it("check --json reports the clamped expiry, even though the token's own exp claim is past year 275760", async () => {
    const check = await run(['check', '--json'], sandboxEnv(sandbox()));
    expect(check.code).toBe(0);
    const report = JSON.parse(check.stdout);
    expect(report.token.expiresInSeconds).toBeGreaterThan(86_400 - 60);
    expect(report.token.expiresInSeconds).toBeLessThanOrEqual(86_400);
  });

  it('an exp claim past the last JavaScript date is read as unknown, not as an invalid date', () => {
    const jwt = (exp: number) => ['e30', Buffer.from(JSON.stringify({ exp })).toString('base64url'), 'sig'].join('.');
    expect(readTokenClaims(jwt(1e13))?.expiresAt).toBeUndefined();
    expect(readTokenClaims(jwt(1_900_000_000))?.expiresAt).toBe(1_900_000_000_000);
  });
});

describe('cli: nothing unexpected is echoed, one JSON error shape, no command', () => {
  const SECRET = 'S3CRET-value-9f2c';

  it.each([
    [['check', '--json', SECRET], 'unexpected argument 3'],
    [['check', '--client-id', 'a', SECRET], 'unexpected argument 4'],
    [['check', '--', SECRET], 'unexpected argument 2'],
    [['check', `--client-secert=${SECRET}`], 'argument 2 is an unknown option (its text is not shown); did you mean'],
    [['check', `--${SECRET}`], 'argument 2 is an unknown option (its text is not shown)'],
    [['check', `--${SECRET}=${SECRET}`], 'argument 2 is an unknown option (its text is not shown)'],
    [['check', `-${SECRET}`], 'argument 2 is an unknown option (its text is not shown)'],
    [['check', '--tenant', SECRET], '--tenant must be a ServiceTitan tenant id'],
    [['check', '--auth-url', SECRET, '--api-url', 'https://api.example'], '--auth-url is not a valid absolute URL'],
    [
      ['check', '--auth-url', `http://${SECRET}.example`, '--api-url', 'https://api.example'],
      '--auth-url must use https:',
    ],
    [['check', `--json=${SECRET}`], '--json takes no value (argument 2)'],
    [['check', '--client-id', '--client-secret', SECRET], '--client-id needs a value (argument 2)'],
    [['check', '--environment', SECRET], '--environment must be "integration" or "production"'],
    [['check', '--timeout', SECRET], '--timeout must be'],
    [['check', '--probe-path', SECRET], '--probe-path must be a path'],
    [['token', '--probe-path', SECRET], 'unknown option --probe-path (argument 2)'],
    [[SECRET, 'check'], 'argument 1 is not a command'],
    [['help', SECRET], 'argument 2 is not a command'],
  ])('%j exits 2 naming the argument, never its value', async (argv, message) => {
    for (const json of [false, true]) {
      // Credentials are there, so each line fails on its argument, before any request.
      const result = await run(json ? [...argv, '--json'] : argv, {
        ST_CLIENT_ID: 'a',
        ST_CLIENT_SECRET: 'b',
        ST_APP_KEY: 'c',
      });
      expect(result.code).toBe(2);
      const jsonOutput = json || argv.includes('--json');
      expect(jsonOutput ? JSON.parse(result.stdout).error.message : result.stderr).toContain(message);
      // Not the value, not the text of an unknown option, not even their first characters.
      const printed = result.stdout + result.stderr;
      for (const part of [SECRET, SECRET.slice(0, 3), SECRET.slice(6, 12)]) expect(printed).not.toContain(part);
    }
  });

  it.each(BAD_VALUES)(
    'ST_%s, bad value %#: exit 2 naming the variable, no part of the value',
    async (suffix, value) => {
      const env: Record<string, string> = {
        ST_CLIENT_ID: 'cid.good',
        ST_CLIENT_SECRET: 'cs1.good',
        ST_APP_KEY: 'ak1.good',
        ST_TENANT_ID: '42',
        ...(suffix.endsWith('_URL')
          ? { ST_AUTH_URL: 'https://auth.example/t', ST_API_URL: 'https://api.example' }
          : {}),
        [`ST_${suffix}`]: value,
      };
      for (const command of ['check', 'token']) {
        const result = await run([command], env);
        expect(result.code).toBe(2);
        expect(result.stderr).toMatch(new RegExp(`^error: ST_${suffix} `));
        for (const part of [MISPLACED, MISPLACED.slice(0, 4), MISPLACED.slice(4, 10), 'example']) {
          expect(result.stdout + result.stderr).not.toContain(part);
        }
      }
    },
  );

  /** Checks the one failure shape and returns its error member. */
  function jsonFailure(result: Run): { code: string; message: string; exitCode: number } {
    expect(result.stdout.trim().split('\n')).toHaveLength(1);
    const parsed = JSON.parse(result.stdout);
    expect(parsed.ok).toBe(false);
    expect(Object.keys(parsed.error).sort()).toEqual(['code', 'exitCode', 'message']);
    expect(parsed.error.exitCode).toBe(result.code);
    expect(typeof parsed.error.message).toBe('string');
    return parsed.error;
  }

  describe('with a sandbox', () => {
    const sandbox = useSandbox();

    it('check, token, sandbox and usage errors print the same JSON error shape', async () => {
      const rejected = sandboxEnv(sandbox(), { ST_CLIENT_SECRET: 'nope' });
      expect(jsonFailure(await run(['check', '--json'], rejected)).code).toBe('invalid_client');
      expect(jsonFailure(await run(['token', '--json'], rejected)).code).toBe('invalid_client');
      expect(sandbox().token.count).toBe(2);
      const busyPort = Number(new URL(sandbox().apiUrl).port);
      const failedSandbox = await run(['sandbox', '--json', '--port', String(busyPort)]);
      expect(jsonFailure(failedSandbox)).toMatchObject({ code: 'sandbox_failed', exitCode: 4 });
      expect(jsonFailure(await run(['check', '--json', '--nope']))).toMatchObject({ code: 'usage', exitCode: 2 });
      expect(jsonFailure(await run(['token', '--json'], {}))).toMatchObject({
        code: 'missing_credentials',
        exitCode: 2,
      });
    });

    it('--timeout bounds the whole check: a slow token answer plus a slow probe exceed it together (exit 4)', async () => {
      // Each answer alone fits in the budget; a per-request timeout would let both pass. The
      // token answer leaves 1500 ms of the budget for everything else before it (with 300 ms, a
      // busy machine made the token request itself miss the budget now and then); the probe's
      // answer cannot come early (a delay is a lower bound), so the sum exceeds the budget
      // however slow the machine.
      sandbox().token.enqueue({ delayMs: 500 });
      sandbox().api.enqueue({ delayMs: 1700 });
      const result = await run(['check', '--timeout', '2000'], sandboxEnv(sandbox()));
      expect(result.code).toBe(4);
      expect(result.stdout).toContain('Token: OK');
      expect(result.stderr).toContain(
        `GET ${sandbox().apiUrl}/crm/v2/tenant/1000/customers?pageSize=1 did not finish within the time budget of 2000 ms (--timeout, for the whole command)`,
      );
      expect(sandbox().token.count).toBe(1);
      expect(sandbox().api.count).toBe(1);
    });

    it('a token endpoint that never answers ends check and token at the budget, with code timeout', async () => {
      sandbox().token.enqueue({ hang: true, times: 10 });
      const check = await run(['check', '--json', '--timeout', '300'], sandboxEnv(sandbox()));
      expect(jsonFailure(check)).toMatchObject({ code: 'timeout', exitCode: 4 });
      expect(jsonFailure(check).message).toContain(`the token request to ${sandbox().authUrl} did not finish`);
      const token = await run(['token', '--timeout', '300'], sandboxEnv(sandbox()));
      expect(token.code).toBe(4);
      expect(token.stdout).toBe('');
      expect(token.stderr).toContain('did not finish within the time budget of 300 ms');
      expect(sandbox().api.count).toBe(0);
    });
  });

  it('no command prints the usage on stderr and exits 2', async () => {
    const help = await run(['--help']);
    const none = await run([]);
    expect(none).toEqual({ code: 2, stdout: '', stderr: help.stdout });
  });
});
