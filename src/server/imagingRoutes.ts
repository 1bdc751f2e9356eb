/** POST /imaging/findings: a reading tool or pipeline posts WB-MRI findings; they are written back to the EHR. */
import express, { type Request, type Response, type Router } from 'express';
import type { AuditLog } from '../audit/auditLog.ts';
import { authorise, type BearerOptions } from '../auth/bearer.ts';
import { operationOutcome } from '../fhir/outcome.ts';
import { fhirClient } from '../fhir/patientRecords.ts';
import { DicomInputError } from '../imaging/dicom.ts';
import { type FindingsDocument, findingsDocumentSchema } from '../imaging/findingsDocument.ts';
import { findingsFromDicom } from '../imaging/fromDicom.ts';
import { WriteBackError, writeFindings } from '../imaging/writeBack.ts';

export interface ImagingRouteOptions {
  auth: BearerOptions;
  /** The FHIR server written to. */
  fhirBaseUrl: () => string;
  fhirToken?: string;
  audit?: AuditLog;
  now?: () => Date;
}

const FHIR_JSON = 'application/fhir+json';

export function imagingRoutes(o: ImagingRouteOptions): Router {
  const router = express.Router();
  // The findings JSON document, or a DICOM SR (TID 1500) as application/dicom.
  router.post(
    '/findings',
    express.json({ limit: '5mb' }),
    express.raw({ type: 'application/dicom', limit: '50mb' }),
    async (req: Request, res: Response) => {
      const principal = await authorise(req.headers.authorization, o.auth).catch(() => undefined);
      if (!principal) {
        res
          .status(401)
          .set('WWW-Authenticate', 'Bearer realm="osteowatch-imaging"')
          .type(FHIR_JSON)
          .send(JSON.stringify(operationOutcome('login', 'Authentication required')));
        return;
      }
      let doc: FindingsDocument;
      if (Buffer.isBuffer(req.body)) {
        try {
          doc = await findingsFromDicom(req.body);
        } catch (err) {
          if (!(err instanceof DicomInputError)) throw err;
          res
            .status(400)
            .type(FHIR_JSON)
            .send(JSON.stringify(operationOutcome('invalid', `DICOM SR: ${err.message}`)));
          return;
        }
      } else {
        const parsed = findingsDocumentSchema.safeParse(req.body);
        if (!parsed.success) {
          const text = parsed.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ');
          res
            .status(400)
            .type(FHIR_JSON)
            .send(JSON.stringify(operationOutcome('invalid', text)));
          return;
        }
        doc = parsed.data;
      }
      try {
        const result = await writeFindings(doc, {
          client: fhirClient(o.fhirBaseUrl(), o.fhirToken),
          now: o.now?.() ?? new Date(),
          audit: o.audit,
          fhirServer: o.fhirBaseUrl(),
          actor: principal.actor,
        });
        res.status(result.outcome === 'created' ? 201 : 200).json(result);
      } catch (err) {
        if (err instanceof WriteBackError) {
          res
            .status(err.status)
            .type(FHIR_JSON)
            .send(JSON.stringify(operationOutcome(err.status === 422 ? 'not-found' : 'exception', err.message)));
          return;
        }
        throw err;
      }
    },
  );
  return router;
}
