import axios, { type AxiosInstance } from 'axios';
import { invalidConfig } from './errors';
import { warnUser, type ServiceTitanLogger } from './logging/logger';

/**
 * The first axios release that sends https requests through an `http://` proxy in a CONNECT
 * tunnel. Earlier ones send them to the proxy in clear text: the token request (client secret
 * in its body) and every API call (token, app key). The peer range says so, but
 * `npm install --legacy-peer-deps` (common in monorepos) installs an older axios without a word.
 */
export const MIN_SAFE_AXIOS_VERSION = '1.16.1';

/**
 * Variables that make axios (through proxy-from-env) send requests to a proxy; read in both
 * cases, as proxy-from-env does. `NO_PROXY` is not consulted: a host it excludes today may not
 * be excluded tomorrow, and an upgrade is the fix either way.
 */
const PROXY_VARIABLES = [
  'HTTPS_PROXY',
  'HTTP_PROXY',
  'ALL_PROXY',
  'NPM_CONFIG_HTTPS_PROXY',
  'NPM_CONFIG_HTTP_PROXY',
  'NPM_CONFIG_PROXY',
] as const;

/**
 * Where attach reads the axios version: the library's own `import axios`, which is what the peer
 * dependency resolves to and what sends the token request. An instance has no `VERSION`, so one
 * made by another copy of axios cannot be checked; its token request still goes through this one.
 * An object, so a test can stand in another version (`jest.spyOn(axiosRuntime, 'version')`)
 * without installing an old axios into the shared `node_modules`.
 */
export const axiosRuntime = {
  version: (): unknown => (axios as { VERSION?: unknown }).VERSION,
};

/** What to do about the running axios: nothing, warn, or refuse (a proxy would read secrets). */
export type AxiosVersionVerdict =
  { verdict: 'ok' } | { verdict: 'warn'; message: string } | { verdict: 'refuse'; message: string };

/**
 * The decision, as a pure function: axios ≥ {@link MIN_SAFE_AXIOS_VERSION} is fine; an older
 * (or unreadable) version is refused when a proxy is configured (`proxy` names where, e.g.
 * `HTTPS_PROXY`), and a warning otherwise (a proxy set later, or by the platform, would read
 * the secrets).
 */
export function judgeAxiosVersion(version: unknown, proxy: string | undefined): AxiosVersionVerdict {
  if (isAtLeast(version, MIN_SAFE_AXIOS_VERSION)) return { verdict: 'ok' };
  const running = typeof version === 'string' ? `axios ${version}` : 'an axios whose version cannot be read';
  const risk = `sends https requests to an http:// proxy in clear text, client secret and tokens included`;
  const fix = `upgrade axios to >= ${MIN_SAFE_AXIOS_VERSION} (npm install axios@^${MIN_SAFE_AXIOS_VERSION})`;
  if (proxy !== undefined) {
    return {
      verdict: 'refuse',
      message: `${running} ${risk}, and a proxy is configured (${proxy}): ${fix}`,
    };
  }
  return { verdict: 'warn', message: `${running} ${risk} whenever a proxy is configured: ${fix}` };
}

/**
 * Where a proxy is configured for this instance, or `undefined`: a proxy variable set (any
 * value; the token request honours them whatever the instance says) or a `proxy` object in the
 * instance's defaults. Names only, never the value (a proxy URL can hold a password).
 */
export function configuredProxy(
  env: Readonly<Record<string, string | undefined>>,
  defaults: { proxy?: unknown } | undefined,
): string | undefined {
  for (const name of PROXY_VARIABLES) {
    for (const variable of [name, name.toLowerCase()]) {
      const value = env[variable];
      if (value !== undefined && value.trim() !== '') return variable;
    }
  }
  const proxy = defaults?.proxy;
  return proxy !== undefined && proxy !== false && proxy !== null ? "the instance's proxy default" : undefined;
}

/**
 * Run at attach: throws `invalid_config` when the running axios is older than
 * {@link MIN_SAFE_AXIOS_VERSION} and a proxy is configured; warns otherwise (once per process
 * without a logger, code `ST_AUTH_OLD_AXIOS`).
 */
export function checkAxiosVersion(instance: AxiosInstance, logger: ServiceTitanLogger): void {
  const judged = judgeAxiosVersion(axiosRuntime.version(), configuredProxy(process.env, instance.defaults));
  if (judged.verdict === 'refuse') throw invalidConfig(judged.message);
  if (judged.verdict === 'warn') warnUser(logger, 'ST_AUTH_OLD_AXIOS', judged.message);
}

function isAtLeast(version: unknown, minimum: string): boolean {
  const parse = (text: string) => /^v?(\d+)\.(\d+)\.(\d+)/.exec(text.trim())?.slice(1, 4).map(Number);
  const have = typeof version === 'string' ? parse(version) : undefined;
  const need = parse(minimum)!;
  if (have === undefined) return false;
  for (let i = 0; i < 3; i += 1) {
    if (have[i]! !== need[i]!) return have[i]! > need[i]!;
  }
  return true;
}
