/** The `type` of a process warning: the library's own, or Node's standard one for deprecations. */
export type ProcessWarningType = 'ServiceTitanAuthWarning' | 'DeprecationWarning';

const emittedCodes = new Set<string>();

/**
 * `process.emitWarning` once per `code` per process, for what a user must see without
 * configuring anything. Once per process, not per client: an application with a client per
 * tenant would otherwise print the same line hundreds of times. Node prints it to stderr
 * (`(node:pid) [code] type: message`); `--no-warnings` / `--no-deprecation` silence it.
 *
 * @example
 * emitWarningOnce('ST_AUTH_DEP_TOKEN_RETRIES', 'tokenRetries is deprecated: use tokenRequest.retries', 'DeprecationWarning');
 */
export function emitWarningOnce(
  code: string,
  message: string,
  type: ProcessWarningType = 'ServiceTitanAuthWarning',
): void {
  if (emittedCodes.has(code)) return;
  emittedCodes.add(code);
  process.emitWarning(message, { type, code });
}

/**
 * One `DeprecationWarning` per old option name per process (code `ST_AUTH_DEP_<OLD_NAME>`),
 * naming the old and the new name and never a value (a value may be a secret). The library's
 * options and the sandbox's both use it.
 *
 * @example
 * warnDeprecatedName('tokenRetries', 'tokenRequest.retries'); // code ST_AUTH_DEP_TOKEN_RETRIES
 */
export function warnDeprecatedName(oldName: string, newName: string, note = ''): void {
  emitWarningOnce(
    `ST_AUTH_DEP_${screamingSnake(oldName)}`,
    `axios-servicetitan-auth: the option ${oldName} is deprecated, use ${newName}${note} instead; ${oldName} keeps working until the next major version.`,
    'DeprecationWarning',
  );
}

/** `tokenLifetimeSeconds` → `TOKEN_LIFETIME_SECONDS`; `Fault.retryAfter` → `FAULT_RETRY_AFTER`. */
function screamingSnake(name: string): string {
  return name
    .replace(/[^A-Za-z0-9]+/g, '_')
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .toUpperCase();
}
