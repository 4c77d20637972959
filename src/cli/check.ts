import { isAxiosError } from 'axios';
import { isServiceTitanAuthError, problemDetails, tokenFingerprint } from '../index';
import { stringFlag, type Flags } from './args';
import { readTokenClaims } from './claims';
import { ENV, resolveConnection, type ConnectionConfig } from './config';
import { CliError, ExitCode, usageError } from './exit-codes';
import type { CliIo } from './io';
import { formatExpiry, formatRows, jsonError, writeError, writeJson, type JsonError } from './output';
import { openSession, tokenFailure, type ObtainedToken, type Session } from './session';

/** The default probe: a one-item customer list, cheap and served by the sandbox too. */
export const DEFAULT_PROBE_PATH = '/crm/v2/tenant/{tenant}/customers?pageSize=1';

/** What `check --json` prints (one object). Never holds the client secret or the app key. */
export interface CheckReport {
  ok: boolean;
  exitCode: number;
  environment?: string;
  authUrl?: string;
  apiUrl?: string;
  token?: TokenReport;
  probe?: ProbeReport;
  warnings: string[];
  /** On failure: the error shape every command prints under `--json`. */
  error?: JsonError;
}

export interface TokenReport {
  fingerprint: string;
  /** ISO 8601, measured from when the token was requested. */
  expiresAt: string | null;
  expiresInSeconds: number | null;
  /** `jwt` when the claims could be read, `opaque` otherwise. */
  format: 'jwt' | 'opaque';
  tenant: string | null;
  clientId: string | null;
  scopes: string[];
  issuer: string | null;
  /** Only with `--print-token`. */
  accessToken?: string;
}

export type ProbeReport =
  | {
      checked: true;
      method: 'GET';
      path: string;
      tenant: string;
      tenantFrom: 'option' | 'token';
      status: number | null;
      ok: boolean;
    }
  | { checked: false; reason: string };

/**
 * `check`: fetches a token through the library and shows what the token says (environment,
 * expiry, tenant, client id, scopes), then proves the app key and tenant with one cheap GET.
 */
export async function runCheck(flags: Flags, io: CliIo): Promise<number> {
  const report: CheckReport = { ok: false, exitCode: ExitCode.ok, warnings: [] };
  try {
    await check(flags, io, report);
    report.ok = true;
  } catch (error) {
    if (!(error instanceof CliError)) throw error;
    report.exitCode = error.exitCode;
    report.error = jsonError(error);
  }
  if (flags['json'] === true) writeJson(io, report);
  else renderHuman(report, io);
  return report.exitCode;
}

async function check(flags: Flags, io: CliIo, report: CheckReport): Promise<void> {
  const probePath = stringFlag(flags, 'probe-path') ?? DEFAULT_PROBE_PATH;
  if (!probePath.startsWith('/')) throw usageError('--probe-path must be a path on the API starting with "/"');
  const config = resolveConnection(flags, io.env);
  Object.assign(report, { environment: config.environmentName, authUrl: config.authUrl, apiUrl: config.apiUrl });
  const session = openSession(config);
  try {
    await checkWith(session, config, probePath, report, flags['print-token'] === true);
  } finally {
    session.deadline.clear();
  }
}

async function checkWith(
  session: Session,
  config: ConnectionConfig,
  probePath: string,
  report: CheckReport,
  printToken: boolean,
): Promise<void> {
  const token = await session.fetchToken();
  report.token = describeToken(token, printToken);

  const claimedTenant = report.token.tenant ?? undefined;
  if (config.tenantId !== undefined && claimedTenant !== undefined && config.tenantId !== claimedTenant) {
    report.warnings.push(
      `the tenant given (${config.tenantId}) is not the token's tenant claim (${claimedTenant}): the client id belongs to tenant ${claimedTenant}`,
    );
  }
  report.probe = await probe(session, config, probePath, claimedTenant);
}

function describeToken(token: ObtainedToken, printToken: boolean): TokenReport {
  const claims = readTokenClaims(token.accessToken);
  const expiresAt = Number.isFinite(token.expiresAt) ? token.expiresAt : claims?.expiresAt;
  const scopes = claims?.scopes ?? token.scope?.split(/\s+/).filter((s) => s !== '') ?? [];
  return {
    fingerprint: tokenFingerprint(token.accessToken),
    expiresAt: expiresAt === undefined ? null : new Date(expiresAt).toISOString(),
    expiresInSeconds: expiresAt === undefined ? null : Math.round((expiresAt - Date.now()) / 1000),
    format: claims === undefined ? 'opaque' : 'jwt',
    tenant: claims?.tenant ?? null,
    clientId: claims?.clientId ?? null,
    scopes,
    issuer: claims?.issuer ?? null,
    ...(printToken ? { accessToken: token.accessToken } : {}),
  };
}

async function probe(
  session: Session,
  config: ConnectionConfig,
  probePath: string,
  claimedTenant: string | undefined,
): Promise<ProbeReport> {
  const tenant = config.tenantId ?? claimedTenant;
  if (tenant === undefined) {
    return {
      checked: false,
      reason: `no tenant (--tenant or ${ENV.tenant}) and none in the token: the app key was not checked`,
    };
  }
  const path = probePath.replaceAll('{tenant}', encodeURIComponent(tenant));
  const base = {
    checked: true as const,
    method: 'GET' as const,
    path,
    tenant,
    tenantFrom: config.tenantId === undefined ? ('token' as const) : ('option' as const),
  };
  try {
    const response = await session.client.get(path, { signal: session.deadline.signal });
    return { ...base, status: response.status, ok: true };
  } catch (error) {
    if (session.deadline.expired) throw session.deadline.exceeded(`GET ${config.apiUrl}${path}`);
    if (isServiceTitanAuthError(error)) throw tokenFailure(error, config);
    throw probeFailure(error, path, tenant, config);
  }
}

function probeFailure(error: unknown, path: string, tenant: string, config: ConnectionConfig): CliError {
  const call = `GET ${config.apiUrl}${path}`;
  if (!isAxiosError(error)) {
    return new CliError(
      ExitCode.unreachable,
      'probe_failed',
      `${call} failed: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
  const status = error.response?.status;
  if (status === undefined) {
    return new CliError(
      ExitCode.unreachable,
      'api_unreachable',
      `${call} failed (${error.code ?? error.message}): the API is not reachable`,
    );
  }
  const problem = problemDetails(error);
  const title = problem?.title === undefined || problem.title === '' ? '' : ` "${problem.title}"`;
  const trace = problem?.traceId === undefined ? '' : ` (traceId ${problem.traceId})`;
  const answer = `${status}${title}${trace}`;
  if (status === 401) {
    return new CliError(
      ExitCode.apiRejected,
      'app_key_rejected',
      `the API refused ${call} with ${answer} although the token was just issued: check the app key (--app-key or ${ENV.appKey}); it must be the key of an application connected to tenant ${tenant}`,
    );
  }
  if (status === 403) {
    return new CliError(
      ExitCode.apiRejected,
      'tenant_rejected',
      `the API refused ${call} with ${answer}: check the tenant id (--tenant or ${ENV.tenant}), that the app is connected to tenant ${tenant}, and that it may call this endpoint (or choose another with --probe-path)`,
    );
  }
  const hint =
    status === 404
      ? ': no such endpoint here; choose one the app may call with --probe-path'
      : status >= 500
        ? ': the API is failing, try again later'
        : '';
  return new CliError(ExitCode.unreachable, 'probe_failed', `the API answered ${call} with ${answer}${hint}`);
}

function renderHuman(report: CheckReport, io: CliIo): void {
  const { token, probe: probed } = report;
  if (token !== undefined) {
    const none = token.format === 'jwt' ? '(not in the token)' : '(unknown: the token is not a JWT)';
    const rows: Array<[string, string]> = [
      ['environment', report.environment ?? ''],
      ['token endpoint', report.authUrl ?? ''],
      ['API', report.apiUrl ?? ''],
      ['expires', token.expiresAt === null ? 'unknown' : formatExpiry(Date.parse(token.expiresAt))],
      ['tenant', token.tenant ?? none],
      ['client id', token.clientId ?? none],
      ['scopes', token.scopes.length > 0 ? token.scopes.join(' ') : none],
      ['fingerprint', token.fingerprint],
    ];
    if (token.accessToken !== undefined) rows.push(['access token', token.accessToken]);
    io.stdout.write(`Token: OK\n${formatRows(rows)}`);
  }
  if (probed !== undefined) {
    io.stdout.write(
      probed.checked
        ? `App key and tenant: OK (${probed.method} ${probed.path} -> ${probed.status ?? '?'}${probed.tenantFrom === 'token' ? ', tenant from the token' : ''})\n`
        : `App key: not checked: ${probed.reason}\n`,
    );
  }
  for (const warning of report.warnings) io.stderr.write(`warning: ${warning}\n`);
  if (report.error !== undefined) writeError(io, report.error.message);
}
