import { createServiceTitanClient, type ServiceTitanClient, type ServiceTitanClientOptions } from '../../src';
import {
  startSandbox,
  type Sandbox,
  type SandboxClientOptions,
  type SandboxCredentials,
  type SandboxOptions,
  type SandboxRequestRecord,
} from '../../src/testing';
import { authOptions } from '../helpers/sandbox';
import { SandboxProcess, type SandboxProcessSettings } from '../helpers/sandbox-process';
import { startRecordingProxy } from '../helpers/recording-proxy';
import { createTestCertificate, startTlsTerminator, type TestCertificate } from '../helpers/tls';

/**
 * The seams matrix (issue 17 item 9): every core scenario (a DESIGN guarantee, counted at the
 * sandbox) runs under every condition a real service has (an OpenTelemetry SDK, keep-alive
 * agents, a proxy, other traffic, the Redis stores, many tenants). A new feature adds one
 * condition to `conditions.ts` or one scenario to `scenarios.ts`, never a file of its own.
 */

/** A front (TLS terminator, proxy) where the cell's sandbox runs. */
export interface Front {
  url: string;
  close(): Promise<void>;
}

/** A recording HTTP proxy (tests/helpers/recording-proxy.ts) where the cell's sandbox runs. */
export interface ProxyFront extends Front {
  /** The targets of its CONNECTs (`host:port`) and its plain requests' request lines. */
  seen(): Promise<{ connects: string[]; plainRequests: string[] }>;
}

/**
 * What a condition sees of the cell's sandbox, the same whether it runs in this process or in its
 * own. The hops a condition puts between client and sandbox run where the sandbox runs: they are
 * the network, and in the measuring process a stall would delay what they forward.
 */
export interface CellSandbox {
  readonly authUrl: string;
  readonly apiUrl: string;
  /** The first client's working options. */
  readonly clientOptions: SandboxClientOptions;
  /** Every token request the sandbox received, all clients. */
  tokenRequests(): Promise<readonly SandboxRequestRecord[]>;
  /** `https://localhost:<port>` + the path of one of its URLs, through a TLS terminator. */
  tlsFront(url: string, certificate: TestCertificate): Promise<Front>;
  /** A recording HTTP proxy (one per cell). */
  proxy(): Promise<ProxyFront>;
}

/** `https://localhost:<port>` in front of a sandbox URL, keeping its path. */
function tlsUrl(url: string, port: number): string {
  const tls = new URL(url);
  tls.protocol = 'https:';
  tls.hostname = 'localhost';
  tls.port = String(port);
  return tls.href.replace(/\/$/, '');
}

const targetPort = (url: string) => Number(new URL(url).port);

/** What a condition sets up before a scenario runs. */
export interface ConditionContext {
  /** The cell's sandbox (fresh per cell, started with the scenario's and condition's options). */
  sandbox: CellSandbox;
  /** A throw-away certificate for `localhost`, made once per test file. */
  certificate(): TestCertificate;
}

/** A condition while it is in play: what it adds to the scenario's clients, and its teardown. */
export interface ConditionInPlay {
  /** The environment the clients use instead of the sandbox's (a TLS front, a proxied origin). */
  environment?: { authUrl: string; apiUrl: string };
  /** Adds the condition's options (agents, stores…) to the scenario's client options. */
  options?(options: ServiceTitanClientOptions): ServiceTitanClientOptions;
  /** Builds a client from the final options. @default createServiceTitanClient */
  createClient?(options: ServiceTitanClientOptions): Promise<ServiceTitanClient>;
  /** Asserts that the condition really was in play (spans exported, CONNECTs seen…), after the scenario. */
  verify?(): void | Promise<void>;
  /** Stops what setup started. Runs whether the scenario passed or not. */
  teardown(): Promise<void>;
}

export interface Condition {
  /** Shown in the test name. */
  name: string;
  /** Needs `redis-server` (skipped with a notice without it, an error on CI). */
  needsRedis?: boolean;
  /**
   * Why the rate limit cannot see its requests' writes under this condition (src/rate-limit/written.ts:
   * such a request counts from its hand-over, its connection set-up taken for network delay):
   * the matrix skips its {@link ArrivalScenario} cells, naming this. @default seen
   */
  unseenWrites?: string;
  /** Sandbox options the condition needs (more tenants); merged over the scenario's. Both kinds of sandbox take them. */
  sandbox?(): Promise<Pick<SandboxOptions, 'clients' | 'authPort'>>;
  setup(context: ConditionContext): Promise<ConditionInPlay>;
}

/** What every scenario gets: its tenant and the client factory of the condition. */
export interface CellClients {
  /** The tenant the scenario's clients work for (the sandbox's first client). */
  tenant: SandboxCredentials;
  /** A customers path with `{tenant}` for the scenario's clients. */
  path: string;
  /** A client for the scenario's tenant under the condition, with `overrides` over working options. */
  client(overrides?: Partial<ServiceTitanClientOptions>): Promise<ServiceTitanClient>;
}

/** What a scenario gets: the sandbox, the client factory of the condition, and server-side views of its own traffic. */
export interface Cell extends CellClients {
  sandbox: Sandbox;
  /** Matches the token requests of the scenario's tenant (for holds and faults). */
  isTenantToken(record: SandboxRequestRecord): boolean;
  /** Matches the API requests of the scenario's tenant (for holds and faults). */
  isTenantApi(record: SandboxRequestRecord): boolean;
  /** Token requests of the scenario's tenant the sandbox received (other traffic left out). */
  tokenRequests(): SandboxRequestRecord[];
  /** API requests of the scenario's tenant the sandbox received (other traffic left out). */
  apiRequests(): SandboxRequestRecord[];
}

export interface Scenario {
  /** Shown in the test name, with the guarantee it proves. */
  name: string;
  /** Sandbox options the scenario needs. */
  sandbox?: SandboxOptions;
  run(cell: Cell): Promise<void>;
}

/** What an {@link ArrivalScenario} gets: no holds or faults (they do not cross processes), the arrivals. */
export interface ArrivalCell extends CellClients {
  /** API requests of the scenario's tenant the sandbox received (other traffic left out), in arrival order. */
  apiRequests(): Promise<SandboxRequestRecord[]>;
}

/**
 * A scenario that counts arrivals per rolling second at the server (guarantee 17). Its sandbox
 * runs in a process of its own, at the highest CPU priority (tests/helpers/sandbox-process.ts),
 * as ServiceTitan's servers are not starved by the client's machine. In this process, a starved
 * event loop read a burst's requests up to seconds after they were written (client `finish` at
 * 118 ms, server arrivals at 565-821 ms) and the next window's burst at once, so the server
 * counted two windows in one second: 429s that no client could avoid.
 */
export interface ArrivalScenario {
  /** Shown in the test name, with the guarantee it proves. */
  name: string;
  /** The sandbox process's settings (its rate limit). */
  sandboxProcess: Pick<SandboxProcessSettings, 'requestsPerSecond'>;
  run(cell: ArrivalCell): Promise<void>;
}

let certificate: TestCertificate | undefined;

/** The certificate of this test file, made on first use; {@link removeCertificate} deletes it. */
function fileCertificate(): TestCertificate {
  certificate ??= createTestCertificate();
  return certificate;
}

export function removeCertificate(): void {
  certificate?.remove();
  certificate = undefined;
}

/** Runs one scenario under one condition: fresh sandbox, condition set up, scenario, verify, teardown. */
export async function runCell(condition: Condition, scenario: Scenario | ArrivalScenario): Promise<void> {
  if ('sandboxProcess' in scenario) {
    await runWithSandboxProcess(condition, scenario);
    return;
  }
  const sandbox = await startSandbox({
    rateLimit: false,
    reportRateLimit: false,
    ...scenario.sandbox,
    ...(await condition.sandbox?.()),
  });
  try {
    const seen: CellSandbox = {
      authUrl: sandbox.authUrl,
      apiUrl: sandbox.apiUrl,
      clientOptions: sandbox.clientOptions,
      tokenRequests: async () => sandbox.token.requests,
      async tlsFront(url, certificate) {
        const terminator = await startTlsTerminator(targetPort(url), certificate);
        return { url: tlsUrl(url, terminator.port), close: () => terminator.close() };
      },
      async proxy() {
        const proxy = await startRecordingProxy();
        return {
          url: proxy.url,
          seen: async () => ({ connects: proxy.connects, plainRequests: proxy.plainRequests }),
          close: () => proxy.close(),
        };
      },
    };
    await underCondition(condition, seen, (inPlay) => scenario.run(cellFor(sandbox, inPlay)));
  } finally {
    await sandbox.close();
  }
}

async function runWithSandboxProcess(condition: Condition, scenario: ArrivalScenario): Promise<void> {
  const sandbox = await SandboxProcess.start({ ...scenario.sandboxProcess, ...(await condition.sandbox?.()) });
  try {
    const { environment } = sandbox.options;
    const seen: CellSandbox = {
      authUrl: environment.authUrl,
      apiUrl: environment.apiUrl,
      clientOptions: sandbox.options,
      tokenRequests: async () => (await sandbox.records()).token,
      // Fronts end with the sandbox's process.
      tlsFront: async (url, certificate) => ({
        url: tlsUrl(url, await sandbox.tlsFront(targetPort(url), certificate)),
        close: async () => undefined,
      }),
      proxy: async () => ({
        url: await sandbox.proxy(),
        seen: () => sandbox.proxySeen(),
        close: async () => undefined,
      }),
    };
    await underCondition(condition, seen, async (inPlay) => {
      const clients = cellClients(sandbox.options, inPlay);
      const tenantPrefix = `/tenant/${clients.tenant.tenantId}/`;
      await scenario.run({
        ...clients,
        apiRequests: async () => (await sandbox.records()).api.filter((record) => record.path.includes(tenantPrefix)),
      });
    });
  } finally {
    await sandbox.close();
  }
}

async function underCondition(
  condition: Condition,
  sandbox: CellSandbox,
  run: (inPlay: ConditionInPlay) => Promise<void>,
): Promise<void> {
  const inPlay = await condition.setup({ sandbox, certificate: fileCertificate });
  try {
    await run(inPlay);
    await inPlay.verify?.();
  } finally {
    await inPlay.teardown();
  }
}

function cellClients(sandbox: SandboxClientOptions, inPlay: ConditionInPlay): CellClients {
  const tenant: SandboxCredentials = {
    clientId: sandbox.clientId,
    clientSecret: sandbox.clientSecret,
    tenantId: sandbox.tenantId,
  };
  return {
    tenant,
    path: '/crm/v2/tenant/{tenant}/customers',
    async client(overrides = {}) {
      const base: ServiceTitanClientOptions = authOptions(sandbox, {
        clientId: tenant.clientId,
        clientSecret: tenant.clientSecret,
        tenantId: tenant.tenantId,
        ...(inPlay.environment === undefined ? {} : { environment: inPlay.environment }),
        ...overrides,
      });
      const options = inPlay.options?.(base) ?? base;
      return (await inPlay.createClient?.(options)) ?? createServiceTitanClient(options);
    },
  };
}

function cellFor(sandbox: Sandbox, inPlay: ConditionInPlay): Cell {
  const clients = cellClients(sandbox.clientOptions, inPlay);
  const tenantPrefix = `/tenant/${clients.tenant.tenantId}/`;
  const isTenantToken = (record: SandboxRequestRecord) => record.clientId === clients.tenant.clientId;
  const isTenantApi = (record: SandboxRequestRecord) => record.path.includes(tenantPrefix);
  return {
    ...clients,
    sandbox,
    isTenantToken,
    isTenantApi,
    tokenRequests: () => sandbox.token.requests.filter(isTenantToken),
    apiRequests: () => sandbox.api.requests.filter(isTenantApi),
  };
}
