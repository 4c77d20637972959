export { startSandbox } from './sandbox';
export type {
  Fault,
  Hold,
  RetryAfterStyle,
  Sandbox,
  SandboxClientOptions,
  SandboxCredentials,
  SandboxEndpoint,
  SandboxOptions,
  SandboxRequestRecord,
  TokenErrorStyle,
  UntilWaitingOptions,
} from './types';
