export { startSandbox } from './sandbox';
export type {
  Fault,
  Hold,
  RetryAfterStyle,
  Sandbox,
  SandboxCredentials,
  SandboxEndpoint,
  SandboxOptions,
  SandboxRequestRecord,
  TokenErrorStyle,
} from './types';
