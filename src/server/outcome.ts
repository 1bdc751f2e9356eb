/**
 * Where every error answer of the HTTP service is written: an OperationOutcome
 * (https://hl7.org/fhir/R4/operationoutcome.html), and the one mapping of what escapes a route to it. An
 * OsteoWatchError answers with its kind's status and issue type (errors.ts) and its message, which was written for
 * the caller; a body-parser refusal with its own 4xx; anything else is a bug: 500 with a generic text, logged
 * without its message, which may hold patient data.
 */
import type { Resource } from '@medplum/fhirtypes';
import type { ErrorRequestHandler, Response } from 'express';
import { httpStatusOf, type IssueType, issueTypeOf, OsteoWatchError } from '../errors.ts';
import { operationOutcome } from '../fhir/outcome.ts';
import { type Logger, redactPath } from '../log/logger.ts';

/** The FHIR JSON media type (https://hl7.org/fhir/R4/http.html#mime-type). */
export const FHIR_JSON = 'application/fhir+json';
/** CDS Hooks speaks plain JSON (https://cds-hooks.hl7.org/2.0/#http-response), errors included. */
export const PLAIN_JSON = 'application/json';
/** The media types a JSON body is read under: plain JSON, FHIR JSON and its older spelling (DSTU2). */
export const JSON_MEDIA_TYPES: readonly string[] = [PLAIN_JSON, FHIR_JSON, 'application/json+fhir'];

/** A FHIR resource as the body: a resource read or written, or the OperationOutcome of an error. */
export function sendResource(res: Response, status: number, resource: Resource, type = FHIR_JSON): void {
  res.status(status).type(type).send(JSON.stringify(resource));
}

export interface OutcomeOptions {
  /** The media type of the answer: FHIR JSON unless the API speaks plain JSON. */
  type?: string;
  expression?: string[];
}

/** An error answer: `status` with an OperationOutcome of one issue. */
export function sendOutcome(
  res: Response,
  status: number,
  code: IssueType,
  text: string,
  o: OutcomeOptions = {},
): void {
  sendResource(res, status, operationOutcome(code, text, o.expression), o.type);
}

/** An OsteoWatchError as its kind's status and issue type, with its message. */
export function sendError(res: Response, err: OsteoWatchError, type = FHIR_JSON): void {
  sendOutcome(res, httpStatusOf(err.kind), issueTypeOf(err), err.message, { type, expression: err.details.expression });
}

/** What body-parser throws (http-errors): `type` names the refusal, `status` is its HTTP status. */
interface BodyParserError {
  type?: string;
  status?: number;
  message?: string;
}

/** Where in our code an error was thrown: the stack without its first line, which repeats the message. */
const frames = (err: unknown): string[] =>
  ((err as Error | undefined)?.stack ?? '')
    .split('\n')
    .slice(1, 6)
    .map((s) => s.trim());

/**
 * The error-handling middleware (https://expressjs.com/en/guide/error-handling.html): route handlers throw, this
 * answers. Mounted last on the application, and on a router whose API answers in another media type.
 */
export function outcomeErrors(o: { logger?: Logger; type?: string } = {}): ErrorRequestHandler {
  const type = o.type ?? FHIR_JSON;
  return (err: unknown, req, res, next) => {
    // Part of the answer is already out: Express's own handler closes the connection.
    if (res.headersSent) return next(err);
    const path = redactPath(req.originalUrl);
    if (err instanceof OsteoWatchError) {
      if (httpStatusOf(err.kind) >= 500) o.logger?.error({ err: err.name, kind: err.kind, path }, 'request failed');
      return sendError(res, err, type);
    }
    const e = (err ?? {}) as BodyParserError;
    if (e.type === 'entity.parse.failed')
      return sendOutcome(res, 400, 'structure', `The request body is not valid JSON: ${e.message}`, { type });
    if (e.type === 'entity.too.large')
      return sendOutcome(res, 413, 'too-costly', 'The request body is too large', { type });
    if (e.status && e.status >= 400 && e.status < 500)
      return sendOutcome(res, e.status, 'invalid', String(e.message), { type });
    o.logger?.error({ err: (err as Error | undefined)?.name ?? typeof err, at: frames(err), path }, 'request failed');
    sendOutcome(res, 500, 'exception', 'Internal error', { type });
  };
}
