/**
 * One error vocabulary for every edge: an error we raise on purpose is an OsteoWatchError of one `kind`, and each
 * edge translates the kind in one place: HTTP status and OperationOutcome issue type (the server's error
 * middleware), exit code (the CLI and the service's start-up). An error of any other type is a bug: HTTP 500 with
 * a generic message, or "unexpected error" on the command line.
 *
 * Pure: imports nothing of ours and no node:* (zod for types only), so that every layer may use it.
 */
import type { output, ZodError, ZodType } from 'zod';

/**
 * What went wrong, from the caller's side. Closed on purpose: a new kind is a decision about its status and
 * exit code, made below.
 */
export const ERROR_KINDS = [
  /** The input (request body, file, query) is not acceptable. */
  'invalid',
  /** The command line was used wrongly. */
  'usage',
  'not-found',
  /** No or bad credentials. */
  'unauthorized',
  /** Credentials fine, permission missing. */
  'forbidden',
  'conflict',
  /** A request body of a media type the endpoint does not read (HTTP 415). */
  'media-type',
  /** Data the operation requires is missing (a CDS call whose required prefetch can be had neither way). */
  'precondition',
  /** Well-formed input that cannot be acted on (findings for a patient the FHIR server does not know). */
  'unprocessable',
  'unavailable',
  'timeout',
  /** The store is held by another process. */
  'locked',
  /** The service's configuration (environment, configuration files) is wrong. */
  'config',
  /** A server we called failed or refused. */
  'upstream',
  /** Our own output failed our own checks: a bug, but one we can describe. */
  'internal',
] as const;
export type ErrorKind = (typeof ERROR_KINDS)[number];

/** OperationOutcome.issue.code values this service uses (https://hl7.org/fhir/R4/valueset-issue-type.html). */
export type IssueType =
  | 'invalid'
  | 'structure'
  | 'required'
  | 'value'
  | 'not-found'
  | 'exception'
  | 'security'
  | 'login'
  | 'forbidden'
  | 'conflict'
  | 'processing'
  | 'too-costly'
  | 'not-supported'
  | 'transient'
  | 'timeout'
  | 'lock-error';

export interface ErrorDetails {
  /** The OperationOutcome issue type, where the kind's default is not the right word. */
  code?: IssueType;
  /** What was wrong, as FHIRPath expressions (OperationOutcome.issue.expression). */
  expression?: string[];
  /** The CLI's exit code, where the kind's is not the one (`audit verify` finding a broken chain exits 1). */
  exitCode?: number;
}

export class OsteoWatchError extends Error {
  readonly kind: ErrorKind;
  readonly details: ErrorDetails;
  constructor(kind: ErrorKind, message: string, details: ErrorDetails = {}) {
    super(message);
    this.name = new.target.name;
    this.kind = kind;
    this.details = details;
  }
}

/**
 * A server refused what we asked (an HTTP 4xx other than 408 and 429: not authorised, not found, not allowed): the
 * same request again cannot succeed, so it is not retried; the operator must change something.
 */
export class RefusedError extends OsteoWatchError {
  constructor(message: string) {
    super('upstream', message);
  }
}

/**
 * Why a request got no answer, from what fetch threw: the network error's code (ECONNREFUSED, ENOTFOUND …) or
 * its cause's message, rather than fetch's own "fetch failed", which says nothing.
 */
export function networkReason(err: unknown): string {
  const cause = (err as { cause?: { code?: string; message?: string } } | undefined)?.cause;
  return cause?.code ?? cause?.message ?? (err instanceof Error ? err.message : String(err));
}

/** Whether an HTTP status is a refusal (RefusedError) rather than a failure worth retrying. */
export const isRefusal = (status: number): boolean => status >= 400 && status < 500 && status !== 408 && status !== 429;

/** HTTP status by kind (https://www.rfc-editor.org/rfc/rfc9110#name-status-codes). */
const HTTP_STATUS: Record<ErrorKind, number> = {
  invalid: 400,
  usage: 400,
  unauthorized: 401,
  forbidden: 403,
  'not-found': 404,
  conflict: 409,
  precondition: 412,
  'media-type': 415,
  unprocessable: 422,
  // https://www.rfc-editor.org/rfc/rfc4918#section-11.3
  locked: 423,
  config: 500,
  internal: 500,
  upstream: 502,
  unavailable: 503,
  timeout: 504,
};

/**
 * The issue type of each kind's OperationOutcome (https://hl7.org/fhir/R4/operationoutcome.html); a 412 is
 * `processing` and a failed upstream call `exception`, as this service has always answered them.
 */
const ISSUE_TYPE: Record<ErrorKind, IssueType> = {
  invalid: 'invalid',
  usage: 'invalid',
  unauthorized: 'login',
  forbidden: 'forbidden',
  'not-found': 'not-found',
  conflict: 'conflict',
  precondition: 'processing',
  'media-type': 'not-supported',
  unprocessable: 'processing',
  locked: 'lock-error',
  config: 'exception',
  internal: 'exception',
  upstream: 'exception',
  unavailable: 'transient',
  timeout: 'timeout',
};

export const httpStatusOf = (kind: ErrorKind): number => HTTP_STATUS[kind];

export const issueTypeOf = (err: OsteoWatchError): IssueType => err.details.code ?? ISSUE_TYPE[err.kind];

/**
 * The exit code: 2 for a command or service started wrongly (bad usage, bad configuration), 1 for everything else
 * (bad input, an unreachable or refusing server, a locked store), as the README promises.
 */
export function exitCodeOf(err: OsteoWatchError): number {
  return err.details.exitCode ?? (err.kind === 'usage' || err.kind === 'config' ? 2 : 1);
}

/** Each zod issue as `path: message`, the path under `prefix` when given; an issue at the root is its message. */
export function zodIssues(error: ZodError, prefix?: string): string[] {
  return error.issues.map((i) => {
    const path = (prefix === undefined ? i.path : [prefix, ...i.path]).map(String).join('.');
    // A message that names its variable already (the configuration's) is not prefixed with it again.
    return path && !i.message.startsWith(path) ? `${path}: ${i.message}` : i.message;
  });
}

/** A zod error in one line: `path: message; path: message`. */
export const zodMessage = (error: ZodError, prefix?: string): string => zodIssues(error, prefix).join('; ');

/** Untrusted input checked against its schema: the parsed value, or an `invalid` error naming every problem. */
export function parseInput<S extends ZodType>(schema: S, value: unknown, prefix?: string): output<S> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new OsteoWatchError('invalid', zodMessage(parsed.error, prefix));
  return parsed.data;
}
