/** Small statistics and formatting helpers. */

export function median(values: readonly number[]): number {
  return quantile(values, 0.5);
}

/** Nearest-rank quantile (q in 0..1); NaN for an empty list. */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank]!;
}

export function fixed(value: number, digits = 2): string {
  return Number.isFinite(value) ? value.toFixed(digits) : 'n/a';
}

export function thousands(value: number): string {
  return Number.isFinite(value) ? Math.round(value).toLocaleString('en-US') : 'n/a';
}

export function mb(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(2)} MB`;
}

/** A markdown table. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const line = (cells: readonly string[]): string => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

/** Runs `total` calls of `task` with at most `concurrency` at once; counts the rejections. */
export async function runPool(
  total: number,
  concurrency: number,
  task: (index: number) => Promise<unknown>,
): Promise<{ failures: number; firstError: unknown }> {
  let next = 0;
  let failures = 0;
  let firstError: unknown;
  const worker = async (): Promise<void> => {
    while (next < total) {
      const index = next++;
      try {
        await task(index);
      } catch (error) {
        failures += 1;
        firstError ??= error;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, total) }, worker));
  return { failures, firstError };
}

/** A short description of an error, without headers or config (no token in bench output). */
export function describeError(error: unknown): string {
  if (error === undefined) return '';
  if (error instanceof Error) {
    const status = (error as { response?: { status?: number } }).response?.status;
    const code = (error as { code?: string }).code;
    return [error.name, code, status, error.message].filter((part) => part !== undefined).join(' ');
  }
  return String(error);
}

/** Full GC (needs `--expose-gc`), twice so that finalizers' garbage goes too. */
export function collectGarbage(): boolean {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) return false;
  gc();
  gc();
  return true;
}
