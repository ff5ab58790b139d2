/**
 * RFC 9457 problem documents: the one error shape every HTTP answer of sluice uses. The `type` is a
 * stable URL per slug; clients branch on it (or on `status`), never on `title` or `detail`.
 */
import { STATUS_CODES } from 'node:http';
import type { ApiError } from '../errors.js';

export const PROBLEM_TYPE_BASE = 'https://sluice.dev/problems/';

/** The slugs this layer produces itself; the core may add its own through ApiError.type. */
export const PROBLEM = {
  invalidJson: 'invalid-json',
  invalidRequest: 'invalid-request',
  unauthorized: 'unauthorized',
  forbidden: 'forbidden',
  notFound: 'not-found',
  methodNotAllowed: 'method-not-allowed',
  conflict: 'conflict',
  idempotencyKeyInUse: 'idempotency-key-in-use',
  payloadTooLarge: 'payload-too-large',
  unsupportedMediaType: 'unsupported-media-type',
  unprocessable: 'unprocessable',
  tooManyRequests: 'too-many-requests',
  internal: 'internal',
  unavailable: 'unavailable',
} as const;
export type ProblemSlug = (typeof PROBLEM)[keyof typeof PROBLEM];

const TITLES: Readonly<Record<string, string>> = {
  'invalid-json': 'Request body is not valid JSON',
  'invalid-request': 'Request does not match the schema',
  unauthorized: 'Missing or unknown API key',
  forbidden: 'Not allowed for this API key',
  'not-found': 'Not found',
  'method-not-allowed': 'Method not allowed',
  conflict: 'Conflict',
  'idempotency-key-in-use': 'Idempotency-Key in use',
  'payload-too-large': 'Payload too large',
  'unsupported-media-type': 'Unsupported media type',
  unprocessable: 'Request cannot be processed',
  'too-many-requests': 'Too many requests',
  internal: 'Internal error',
  unavailable: 'Service unavailable',
};

export interface FieldError {
  /** Where in the request: a field name, or a path such as `messages[3].to`. */
  field: string;
  message: string;
}

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  errors?: FieldError[];
}

/**
 * Field errors a problem lists at most: a body of 100,000 bad entries gets the first 20 (and the
 * count in its detail), not an answer many times its size.
 */
export const MAX_LISTED_ERRORS = 20;

export function problem(
  status: number,
  slug: string,
  detail: string,
  errors?: readonly FieldError[],
): Problem {
  const p: Problem = {
    type: PROBLEM_TYPE_BASE + slug,
    title: TITLES[slug] ?? STATUS_CODES[status] ?? 'Error',
    status,
    detail,
  };
  if (errors !== undefined && errors.length > 0) p.errors = errors.slice(0, MAX_LISTED_ERRORS);
  return p;
}

/**
 * The core's ApiError as a problem. A status outside 400..599 is a bug in the core, not something to
 * send a client (a 2xx problem would read as success): it becomes a 500.
 */
export function problemFromApiError(err: ApiError): Problem {
  if (err.status < 400 || err.status > 599) return internalProblem();
  return problem(err.status, err.type, err.message, err.fields);
}

/** Says nothing of what failed: the details go to the log only. */
export function internalProblem(): Problem {
  return problem(500, PROBLEM.internal, 'the request could not be completed; the error has been logged');
}

const statusLines = new Map<number, string>();

/** "202 Accepted": the status line uWS wants, computed once per status. */
export function statusLine(status: number): string {
  let line = statusLines.get(status);
  if (line === undefined) {
    line = `${status} ${STATUS_CODES[status] ?? 'Unknown'}`;
    statusLines.set(status, line);
  }
  return line;
}
