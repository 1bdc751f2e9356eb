/** POST /imaging/findings: a reading tool or pipeline posts WB-MRI findings; they are written back to the EHR. */
import express, {
  type ErrorRequestHandler,
  type NextFunction,
  type Request,
  type Response,
  type Router,
} from 'express';
import type { AuditLog } from '../audit/auditLog.ts';
import { authorise, type BearerOptions, type Principal } from '../auth/bearer.ts';
import { OsteoWatchError } from '../errors.ts';
import { fhirClient } from '../fhir/patientRecords.ts';
import { DicomInputError } from '../imaging/dicom.ts';
import { type FindingsDocument, parseFindingsDocument } from '../imaging/findingsDocument.ts';
import { findingsFromDicom } from '../imaging/fromDicom.ts';
import { recordRefusedWriteBack, writeFindings } from '../imaging/writeBack.ts';
import { jsonBody } from './jsonBody.ts';

export interface ImagingRouteOptions {
  auth: BearerOptions;
  /** The FHIR server written to. */
  fhirBaseUrl: () => string;
  fhirToken?: string;
  audit?: AuditLog;
  now?: () => Date;
}

/** The findings in the body: a DICOM SR or SEG (application/dicom), or the findings JSON document. */
async function findingsOf(body: unknown): Promise<FindingsDocument> {
  if (!Buffer.isBuffer(body)) return parseFindingsDocument(body);
  return findingsFromDicom(body).catch((err: unknown) => {
    // Said in front of the reason, so that a pipeline posting DICOM knows which of its inputs was refused.
    throw err instanceof DicomInputError ? new DicomInputError(`DICOM: ${err.message}`) : err;
  });
}

/**
 * Authentication before anything is read: an unauthenticated caller gets its 401 without its body being read or
 * buffered, and the connection is closed so that the body it is still sending is not drained either.
 */
function authenticate(o: ImagingRouteOptions) {
  return async (req: Request, res: Response, next: NextFunction): Promise<void> => {
    const principal = await authorise(req.headers.authorization, o.auth).catch(() => undefined);
    if (!principal) {
      // https://www.rfc-editor.org/rfc/rfc6750#section-3
      res.set('WWW-Authenticate', 'Bearer realm="osteowatch-imaging"');
      if (req.readable && !req.readableEnded) {
        res.set('Connection', 'close');
        res.on('finish', () => req.socket.destroy());
      }
      throw new OsteoWatchError('unauthorized', 'Authentication required');
    }
    res.locals.principal = principal;
    next();
  };
}

/**
 * An authenticated caller's refused write-back is recorded in the audit trail (writeBack.ts
 * recordRefusedWriteBack), whatever refused it: the body parser, the document's validation, the DICOM reader,
 * or writeFindings (which records its own). An unauthenticated caller's is not: it never got as far as a
 * write-back, and recording it would let anyone fill the trail. The error then goes on to be answered.
 */
function recordRefusals(o: ImagingRouteOptions): ErrorRequestHandler {
  return (err: unknown, req, res, next) => {
    const principal = res.locals.principal as Principal | undefined;
    if (!principal || !o.audit) return next(err);
    const body = (Buffer.isBuffer(req.body) ? undefined : req.body) as Record<string, unknown> | undefined;
    recordRefusedWriteBack(o.audit, err, {
      now: o.now?.() ?? new Date(),
      patient: body?.patient,
      studyUid: body?.studyInstanceUid,
      fhirServer: o.fhirBaseUrl(),
      actor: principal.actor,
      tenant: principal.tenant,
    }).then(
      () => next(err),
      () => next(err),
    );
  };
}

export function imagingRoutes(o: ImagingRouteOptions): Router {
  const router = express.Router();
  // The findings JSON document, or a DICOM SR (TID 1500) as application/dicom. Refusals are thrown: the
  // application's error middleware answers them (400 bad input, 401, 409 a study of another patient, 422 unknown
  // patient, 502 FHIR server).
  router.post(
    '/findings',
    authenticate(o),
    ...jsonBody('5mb', ['application/dicom']),
    express.raw({ type: 'application/dicom', limit: '50mb' }),
    async (req: Request, res: Response) => {
      const principal = res.locals.principal as Principal;
      const result = await writeFindings(await findingsOf(req.body), {
        client: fhirClient(o.fhirBaseUrl(), o.fhirToken),
        now: o.now?.() ?? new Date(),
        audit: o.audit,
        fhirServer: o.fhirBaseUrl(),
        actor: principal.actor,
        tenant: principal.tenant,
      });
      res.status(result.outcome === 'created' ? 201 : 200).json(result);
    },
  );
  router.use(recordRefusals(o));
  return router;
}
