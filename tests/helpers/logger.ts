import type { ServiceTitanLogger } from '../../src';

export interface LogLine {
  level: 'debug' | 'info' | 'warn' | 'error';
  message: string;
  details: Record<string, unknown> | undefined;
}

/** A logger that keeps every line and lets a test wait for the next line with a given message. */
export function recordingLogger(): {
  logger: ServiceTitanLogger;
  lines: LogLine[];
  next(message: string): Promise<LogLine>;
} {
  const lines: LogLine[] = [];
  const waiters: Array<{ message: string; resolve(line: LogLine): void }> = [];
  const write = (level: LogLine['level']) => (message: string, details?: Record<string, unknown>) => {
    const line = { level, message, details };
    lines.push(line);
    for (const waiter of waiters.splice(0)) {
      if (waiter.message === message) waiter.resolve(line);
      else waiters.push(waiter);
    }
  };
  return {
    logger: { debug: write('debug'), info: write('info'), warn: write('warn'), error: write('error') },
    lines,
    next: (message) => new Promise((resolve) => waiters.push({ message, resolve })),
  };
}
