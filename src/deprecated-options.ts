import { invalidConfig } from './errors';
import { warnDeprecatedName } from './process-warning';

/**
 * The option names of 0.1 that issue 19 renamed so that a name says what it governs and in
 * which unit (token-endpoint options under `tokenRequest`, every duration in ms). Each old name
 * keeps working until the next major version, with one `DeprecationWarning` per name per process.
 */
export const DEPRECATED_OPTION_NAMES = {
  refreshBufferSeconds: 'refreshBufferMs',
  tokenTimeoutMs: 'tokenRequest.timeoutMs',
  tokenRetries: 'tokenRequest.retries',
  tokenRetryDelayMs: 'tokenRequest.retryDelayMs',
  maxRetryAfterMs: 'tokenRequest.maxRetryAfterMs',
  rateLimitCooldownMs: 'tokenRequest.rateLimitedCooldownMs',
  failureCooldownMs: 'tokenRequest.failureCooldownMs',
  maxInvalidClientCooldownMs: 'tokenRequest.maxInvalidClientCooldownMs',
  tokenLimiter: 'tokenRequest.limiter',
  fleetWaitMs: 'tokenRequest.fleetWaitMs',
} as const;

export type DeprecatedOptionName = keyof typeof DEPRECATED_OPTION_NAMES;

/** What the warning adds when more than the name changed. */
const CHANGE_NOTES: Partial<Record<DeprecatedOptionName, string>> = {
  refreshBufferSeconds: ' (milliseconds: seconds × 1000)',
};

/** An option's value and the name the user gave it under, for messages that name what they wrote. */
export interface GivenOption {
  value: unknown;
  name: string;
  /** The user gave the deprecated name. */
  deprecated: boolean;
}

/**
 * Reads an option given under its new name (`newValue`) or its deprecated `oldName` in
 * `options`. Both at once is `invalid_config` naming both (which one should win is a guess);
 * the old name alone costs one `DeprecationWarning` per name per process. `undefined` counts as
 * not given, as everywhere in the options.
 */
export function readRenamedOption(options: object, oldName: DeprecatedOptionName, newValue: unknown): GivenOption {
  const newName = DEPRECATED_OPTION_NAMES[oldName];
  const oldValue = (options as Record<string, unknown>)[oldName];
  if (oldValue === undefined) return { value: newValue, name: newName, deprecated: false };
  if (newValue !== undefined) {
    throw invalidConfig(
      `${oldName} and ${newName} are the same option (${oldName} is deprecated): set only ${newName}`,
    );
  }
  warnDeprecatedName(oldName, newName, CHANGE_NOTES[oldName]);
  return { value: oldValue, name: oldName, deprecated: true };
}
