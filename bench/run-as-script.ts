import { fileURLToPath } from 'node:url';

/**
 * Runs `main` when the module at `moduleUrl` (its `import.meta.url`) is the script node was
 * started with, not when it is imported (bench/index.ts imports the benches' sections); exits 0
 * when it resolves, 2 with the error printed when it rejects.
 */
export function runAsScript(moduleUrl: string, main: () => Promise<void>): void {
  if (process.argv[1] !== fileURLToPath(moduleUrl)) return;
  main().then(
    () => process.exit(0),
    (error: unknown) => {
      console.error(error);
      process.exit(2);
    },
  );
}
