// A namespace import, not `import { createRequire }`: an app bundled to ESM with the usual
// `import { createRequire } from 'node:module'` banner would otherwise declare it twice.
import * as nodeModule from 'node:module';

/** The parts of `@opentelemetry/api` the library uses (its own types, so they compile without it). */
export type OpenTelemetryApi = typeof import('@opentelemetry/api');

let loaded: OpenTelemetryApi | null | undefined;

/**
 * `@opentelemetry/api` if the application has it installed, else `undefined`: it is an optional
 * peer dependency, and a static `import` would make the whole package fail to load without it.
 * `createRequire` works in both builds, from this module's own location (so the package resolves
 * from where this library is installed): `__filename` in CommonJS, `import.meta.url` in ESM. Not
 * a bare `require`: esbuild's ESM output turns it into a shim that throws "Dynamic require … is
 * not supported", which would turn telemetry off silently. Two copies
 * of the API interoperate through its global registry, so whichever copy resolves here sees the
 * SDK the application registered.
 */
export function loadOpenTelemetryApi(): OpenTelemetryApi | undefined {
  if (loaded === undefined) {
    try {
      const load = nodeModule.createRequire(typeof __filename === 'string' ? __filename : import.meta.url);
      loaded = load('@opentelemetry/api') as OpenTelemetryApi;
    } catch {
      loaded = null;
    }
  }
  return loaded ?? undefined;
}
