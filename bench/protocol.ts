/** Messages between the harness and bench/server.ts (over `child_process.fork` IPC). */

export interface ServerInfo {
  authUrl: string;
  apiUrl: string;
  clientId: string;
  clientSecret: string;
  tenantId: string;
  appKey: string;
  pid: number;
}

export type ControlCommand =
  | { cmd: 'counters' }
  | { cmd: 'tenantCounters' }
  | { cmd: 'reset' }
  | { cmd: 'hold' }
  | { cmd: 'untilWaiting'; count: number }
  | { cmd: 'release' }
  | { cmd: 'revokeAll' }
  | { cmd: 'delayNextToken'; delayMs: number }
  | { cmd: 'tokenLatency'; delayMs: number }
  | { cmd: 'apiLatency'; delayMs: number }
  | { cmd: 'close' };

export type ControlRequest = ControlCommand & { id: number };

export type ControlReply = { id: number; ok: true; result: unknown } | { id: number; ok: false; error: string };

export interface Counters {
  token: number;
  api: number;
  tokensIssued: number;
  apiRateLimited: number;
  apiMaxInFlight: number;
  cpuMicros: number;
}

/** Per-tenant figures of the fleet benchmark (bench/fleet.ts), since the last reset. */
export interface TenantCounters {
  /** API requests with a token that reached the server. */
  api: number;
  /** 429s the sandbox answered by its own limit (60 per rolling second per app key and tenant). */
  rateLimited: number;
  /**
   * The server's own event loop: the most it ran late (ms) in the second before any 429. Late, it
   * stamped arrivals late and so packed them into a later second: a 429 with a late server may be
   * the server's, one with a punctual server is the clients'.
   */
  serverLateBefore429sMs: number;
  /** Token requests (all tenants). */
  token: number;
  /** Per tenant id: the most arrivals in any rolling second. */
  maxArrivalsPerTenant: Record<string, number>;
  /** Requests the server's log dropped (it keeps `requestLogLimit`): then the arrival figures are partial. */
  logOverflow: number;
  cpuMicros: number;
}
