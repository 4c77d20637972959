import { createServiceTitanClient, type ServiceTitanClient, type ServiceTitanClientOptions } from '../../src';
import {
  startSandbox,
  type Sandbox,
  type SandboxCredentials,
  type SandboxOptions,
  type SandboxRequestRecord,
} from '../../src/testing';
import { authOptions } from '../helpers/sandbox';
import { createTestCertificate, type TestCertificate } from '../helpers/tls';

/**
 * The seams matrix (issue 17 item 9): every core scenario (a DESIGN guarantee, counted at the
 * sandbox) runs under every condition a real service has (an OpenTelemetry SDK, keep-alive
 * agents, a proxy, other traffic, the Redis stores, many tenants). A new feature adds one
 * condition to `conditions.ts` or one scenario to `scenarios.ts`, never a file of its own.
 */

/** What a condition sets up before a scenario runs. */
export interface ConditionContext {
  /** The cell's sandbox (fresh per cell, started with the scenario's and condition's options). */
  sandbox: Sandbox;
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
  /** Sandbox options the condition needs (e.g. more tenants); merged over the scenario's. */
  sandbox?(): Promise<SandboxOptions>;
  setup(context: ConditionContext): Promise<ConditionInPlay>;
}

/** What a scenario gets: the sandbox, the client factory of the condition, and server-side views of its own traffic. */
export interface Cell {
  sandbox: Sandbox;
  /** The tenant the scenario's clients work for (the sandbox's first client). */
  tenant: SandboxCredentials;
  /** A customers path with `{tenant}` for the scenario's clients. */
  path: string;
  /** A client for the scenario's tenant under the condition, with `overrides` over working options. */
  client(overrides?: Partial<ServiceTitanClientOptions>): Promise<ServiceTitanClient>;
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
  /** Sandbox options the scenario needs (e.g. its rate limit). */
  sandbox?: SandboxOptions;
  run(cell: Cell): Promise<void>;
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
export async function runCell(condition: Condition, scenario: Scenario): Promise<void> {
  const sandbox = await startSandbox({
    rateLimit: false,
    reportRateLimit: false,
    ...scenario.sandbox,
    ...(await condition.sandbox?.()),
  });
  try {
    const inPlay = await condition.setup({ sandbox, certificate: fileCertificate });
    try {
      await scenario.run(cellFor(sandbox, inPlay));
      await inPlay.verify?.();
    } finally {
      await inPlay.teardown();
    }
  } finally {
    await sandbox.close();
  }
}

function cellFor(sandbox: Sandbox, inPlay: ConditionInPlay): Cell {
  const tenant = sandbox.clients[0] as SandboxCredentials;
  const tenantPrefix = `/tenant/${tenant.tenantId}/`;
  const isTenantToken = (record: SandboxRequestRecord) => record.clientId === tenant.clientId;
  const isTenantApi = (record: SandboxRequestRecord) => record.path.includes(tenantPrefix);
  return {
    sandbox,
    tenant,
    path: '/crm/v2/tenant/{tenant}/customers',
    isTenantToken,
    isTenantApi,
    tokenRequests: () => sandbox.token.requests.filter(isTenantToken),
    apiRequests: () => sandbox.api.requests.filter(isTenantApi),
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
