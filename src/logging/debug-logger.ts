import type { ServiceTitanLogger } from './logger';

/** The part of the `debug` package's factory this adapter uses: `createDebug(namespace)`. */
export type DebugFactory = (namespace: string) => (formatter: string, ...args: unknown[]) => void;

/**
 * A logger that writes through the `debug` package, under `<namespace>:debug`, `:info`,
 * `:warn` and `:error`, so `DEBUG=axios-servicetitan-auth:*` turns it on. The package is passed
 * in rather than imported, so this library does not depend on it.
 *
 * @example
 * import createDebug from 'debug';
 * attachServiceTitanAuth(api, { ...credentials, logger: debugLogger(createDebug) });
 */
export function debugLogger(createDebug: DebugFactory, namespace = 'axios-servicetitan-auth'): ServiceTitanLogger {
  const channel = (level: string) => {
    const write = createDebug(`${namespace}:${level}`);
    return (message: string, details?: Record<string, unknown>) =>
      details === undefined ? write('%s', message) : write('%s %o', message, details);
  };
  return { debug: channel('debug'), info: channel('info'), warn: channel('warn'), error: channel('error') };
}
