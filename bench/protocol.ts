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
  | { cmd: 'hold' }
  | { cmd: 'untilWaiting'; count: number }
  | { cmd: 'release' }
  | { cmd: 'revokeAll' }
  | { cmd: 'delayNextToken'; delayMs: number }
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
