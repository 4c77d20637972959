import { randomBytes } from 'node:crypto';

/** An RFC 7807 error body in ServiceTitan's shape. */
export interface ProblemBody {
  type: string;
  title: string;
  status: number;
  traceId: string;
  errors: Record<string, string[]>;
  data: Record<string, unknown>;
}

/** A random W3C-style trace id (32 hex digits), like the ones ServiceTitan puts in its errors. */
export function newTraceId(): string {
  return randomBytes(16).toString('hex');
}

/** Builds a problem body for `status`. */
export function problem(status: number, title: string, errors: Record<string, string[]> = {}): ProblemBody {
  return {
    type: `https://httpstatuses.io/${status}`,
    title,
    status,
    traceId: newTraceId(),
    errors,
    data: {},
  };
}

const DEFAULT_TITLES: Record<number, string> = {
  400: 'One or more validation errors occurred.',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

/** A problem body with a generic title, for scripted faults that do not give a body. */
export function defaultProblem(status: number): ProblemBody {
  return problem(status, DEFAULT_TITLES[status] ?? `HTTP ${status}`);
}
