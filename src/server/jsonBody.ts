/**
 * A JSON request body, read whether it is sent as application/json or application/fhir+json, and refused with
 * 415 and an OperationOutcome when it is sent as anything else: express.json() alone lets such a body through
 * as no body at all, so that POST /surveillance/runs with {"asOf": …} as application/fhir+json started a run for
 * today instead of the day asked for (RFC 9110 §15.5.16).
 */
import express, { type Request, type RequestHandler } from 'express';
import { OsteoWatchError } from '../errors.ts';
import { JSON_MEDIA_TYPES } from './outcome.ts';

/** Whether the request carries a body: a Content-Length above 0, or a chunked one (RFC 9112 §6.3). */
const hasBody = (req: Request): boolean =>
  req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;

/** JSON bodies up to `limit`; `alsoAccepted` media types are left to a parser after it (application/dicom). */
export function jsonBody(limit: string, alsoAccepted: readonly string[] = []): RequestHandler[] {
  const accepted = [...JSON_MEDIA_TYPES, ...alsoAccepted];
  return [
    (req, _res, next) => {
      // Thrown to the error middleware, as every refusal is (a refused write-back is recorded there).
      if (hasBody(req) && !req.is(accepted))
        return next(
          new OsteoWatchError(
            'media-type',
            `The request body must be ${accepted.join(' or ')}, not ${req.get('content-type') ?? 'untyped'}`,
          ),
        );
      next();
    },
    express.json({ type: [...JSON_MEDIA_TYPES], limit }),
  ];
}
