import type { CommandName } from './args';

const EXIT_CODES = `Exit codes:
  0  ok
  1  unexpected internal error (a bug: please report it)
  2  usage or configuration error (unknown flag, missing credentials, bad URL)
  3  credentials rejected by the token endpoint (client id / secret, or wrong environment)
  4  network or endpoint failure (DNS, refused connection, 5xx, unexpected answer), or the
     --timeout budget ran out
  5  app key or tenant rejected by the API (401 / 403 on the probe call)
`;

const CONNECTION = `Where and who (flags win over environment variables):
  -e, --environment <name>  integration | production (required, or the URLs)            [ST_ENVIRONMENT]
      --auth-url <url>      token endpoint, instead of --environment (with --api-url)   [ST_AUTH_URL]
      --api-url <url>       API origin, instead of --environment (with --auth-url)      [ST_API_URL]
      --client-id <id>      client id of the tenant's app connection                    [ST_CLIENT_ID]
      --client-secret <s>   its secret (prefer the variable: flags show up in ps)       [ST_CLIENT_SECRET]
      --app-key <key>       the application key, sent as ST-App-Key (required: every API
                            call needs it, and check proves it)                         [ST_APP_KEY]
      --tenant <id>         the tenant id                                               [ST_TENANT_ID]
      --timeout <ms>        time budget of the whole command: token request, retries and
                            probe together (default 30000)
`;

const TOOL = `axios-servicetitan-auth: check ServiceTitan credentials, get tokens, run a local sandbox.

Usage:
  axios-servicetitan-auth <command> [options]

Commands:
  check     fetch a token and show what it grants (environment, expiry, tenant, client id,
            scopes), and prove the app key works with one cheap API call
  token     print a fresh access token (only the token), for curl and scripts
  sandbox   run the local ServiceTitan emulator until Ctrl-C; prints its URLs and credentials

Options:
  -h, --help     help (also: <command> --help)
  -V, --version  the version

Without a command this text goes to stderr and the exit code is 2. Errors name a wrong
argument by its position or option name, never by its value. With --json, every command
prints failures as one line: {"ok":false,"error":{"code","message","exitCode"}}.

Examples:
  ST_CLIENT_ID=… ST_CLIENT_SECRET=… ST_APP_KEY=… ST_TENANT_ID=… npx axios-servicetitan-auth check
  curl -H "Authorization: Bearer $(npx axios-servicetitan-auth token)" -H "ST-App-Key: $ST_APP_KEY" …
  npx axios-servicetitan-auth sandbox --port 4000 --auth-port 4001

${EXIT_CODES}`;

const CHECK = `Usage: axios-servicetitan-auth check [options]

Fetches a token through the library (the same code path as your integration) and prints the
environment, the token endpoint, when the token expires, the tenant, client id and scopes read
from the token's claims (decoded, not verified) and the token's fingerprint. Then it calls
GET <probe path> on the API with the app key, for the tenant (--tenant, or the token's tenant
claim), to prove the app key and tenant are accepted. The client id, secret and app key are
required (exit 2 without them, before any request). The token is printed only with
--print-token; the secret never is.

${CONNECTION}
Check options:
      --probe-path <path>   API call that proves the app key
                            (default /crm/v2/tenant/{tenant}/customers?pageSize=1)
      --print-token         also print the access token
      --json                print one JSON object instead (never the secret); on failure
                            it has ok: false and error: {code, message, exitCode}
  -h, --help

${EXIT_CODES}`;

const TOKEN = `Usage: axios-servicetitan-auth token [options]

Prints a fresh access token and nothing else, e.g.
  curl -H "Authorization: Bearer $(npx axios-servicetitan-auth token)" -H "ST-App-Key: $ST_APP_KEY" \\
    "https://api-integration.servicetitan.io/crm/v2/tenant/$ST_TENANT_ID/customers"
It needs the app key like check (every API call you make with the token needs it too).
Errors go to stderr, with the exit codes of check.

${CONNECTION}
Token options:
      --json                print {"access_token": "…", "expires_at": "<ISO 8601>"}, or on
                            failure {"ok":false,"error":{"code","message","exitCode"}}
  -h, --help

${EXIT_CODES}`;

const SANDBOX = `Usage: axios-servicetitan-auth sandbox [options]

Runs the ServiceTitan emulator of axios-servicetitan-auth/testing on 127.0.0.1 (a token endpoint
and an API, on two ports) until SIGINT (Ctrl-C) or SIGTERM, and prints its URLs, credentials,
the matching ST_* export lines and a curl example. Credentials are generated unless given.

Options:
      --port <n>            API port (default: a free one)
      --auth-port <n>       token endpoint port (default: a free one)
      --client-id <id>      accepted client id (default generated; sandbox-client if only
                            some of client id / secret / tenant are given)
      --client-secret <s>   its secret
      --tenant <id>         its tenant (default 1000)
      --app-key <key>       the app key the API requires (default generated)
      --json                print {"authUrl","apiUrl","clientId","clientSecret","appKey","tenantId"}
                            on one line instead
  -h, --help

The ports are free ones unless you fix them; fixed ports keep URLs the same across restarts
(a .env file, a second shell):
  npx axios-servicetitan-auth sandbox --port 4010 --auth-port 4011
`;

const HELP: Record<CommandName, string> = { check: CHECK, token: TOKEN, sandbox: SANDBOX };

/** The help text of the tool, or of one command. */
export function helpText(command?: CommandName): string {
  return command === undefined ? TOOL : HELP[command];
}
