/**
 * One line for a benchmark's report on a failed request: the error's name, code, HTTP status and
 * the start of its message (the library's errors never hold a secret; a bare axios error's
 * message does not either).
 */
export function describeError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const status = (error as { response?: { status?: number } }).response?.status;
  const code = (error as { code?: string }).code;
  return [error.name, code, status, error.message.slice(0, 200)].filter((part) => part !== undefined).join(' ');
}
