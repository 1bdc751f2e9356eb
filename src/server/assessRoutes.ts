/**
 * POST /app/api/assess: the exposure timeline app (src/pages/app/) posts the records it read from the FHIR
 * server with its own SMART token — {patientId, asOf?, resources: Bundle} — and gets back the timeline view
 * (timelineView.ts), computed by the project's engine. This endpoint reads no FHIR server, follows no reference
 * and is given no token: it computes over what it was sent (no SSRF, no token forwarding), so it holds nothing
 * the caller does not already have. The body is bounded (bytes, entries, nesting) and checked (zod, then the
 * FHIR JSON shape of every entry) before anything reads it; a bad one is a 400 OperationOutcome naming the
 * field. Nothing of the body is logged.
 */
import type { Resource } from '@medplum/fhirtypes';
import express, { type Router } from 'express';
import { z } from 'zod';
import { assertJsonShape, fhirShapeProblem } from '../cdsHooks/request.ts';
import { OsteoWatchError, parseInput } from '../errors.ts';
import { dayIn } from '../exposure/dates.ts';
import type { ExposureConfig } from '../exposure/index.ts';
import { type EntryLike, resolveEntries } from '../fhir/bundleReferences.ts';
import type { CohortDefinition } from '../screening/cohort.ts';
import type { ScreeningConfig } from '../screening/rules.ts';
import { FHIR_ID } from '../terminology/fhirId.ts';
import { FHIR_JSON } from './outcome.ts';
import { timelineView } from './timelineView.ts';

export interface AssessRouteOptions {
  exposure: ExposureConfig;
  screening?: ScreeningConfig;
  cohorts?: CohortDefinition[];
  /** Today, for the default as-of day: the CDS services' clock, so that the page and the card agree. */
  now?: () => Date;
  /** The clinic's IANA time zone (OSTEOWATCH_TZ), as the cards take it. */
  timeZone?: string;
  /** Largest body accepted, bytes (default 20 MB: years of records of one patient). */
  maxBodyBytes?: number;
  /** Most Bundle entries accepted (default 20,000). */
  maxEntries?: number;
}

export const DEFAULT_MAX_ASSESS_BYTES = 20 * 1024 * 1024;
export const DEFAULT_MAX_ASSESS_ENTRIES = 20_000;

const isCalendarDay = (s: string) => {
  const d = new Date(`${s}T00:00:00Z`);
  return !Number.isNaN(d.getTime()) && d.toISOString().slice(0, 10) === s;
};

export function assessRequestSchema(maxEntries: number) {
  return z.object({
    patientId: z.string().regex(FHIR_ID, 'must be a FHIR id (1–64 of A–Z a–z 0–9 - .)'),
    asOf: z
      .string()
      .regex(/^\d{4}-\d{2}-\d{2}$/, 'must be a date, YYYY-MM-DD')
      .refine(isCalendarDay, 'must be a calendar date')
      .refine((s) => s >= '1900-01-01', 'must not be before 1900')
      .optional(),
    resources: z.looseObject({
      resourceType: z.literal('Bundle'),
      entry: z
        .array(
          z.looseObject({
            fullUrl: z.string().max(4096).optional(),
            resource: z.looseObject({ resourceType: z.string() }),
          }),
        )
        .max(maxEntries, `must hold at most ${maxEntries} entries`)
        .optional(),
    }),
  });
}

/** The router, mounted at /app/api. */
export function assessRoutes(o: AssessRouteOptions): Router {
  const router = express.Router();
  const maxEntries = o.maxEntries ?? DEFAULT_MAX_ASSESS_ENTRIES;
  const schema = assessRequestSchema(maxEntries);
  router.post(
    '/assess',
    express.json({ type: ['application/json', FHIR_JSON], limit: o.maxBodyBytes ?? DEFAULT_MAX_ASSESS_BYTES }),
    (req, res) => {
      if (!req.is(['application/json', FHIR_JSON]))
        throw new OsteoWatchError('invalid', 'The body must be JSON (Content-Type: application/json)', {
          code: 'structure',
        });
      assertJsonShape(req.body);
      const body = parseInput(schema, req.body);
      for (const [i, entry] of (body.resources.entry ?? []).entries()) {
        const bad = fhirShapeProblem(entry.resource, `resources.entry[${i}].resource`);
        if (bad)
          throw new OsteoWatchError('invalid', `${bad.path}: ${bad.problem}`, {
            code: 'structure',
            expression: [bad.path],
          });
      }
      // urn:uuid and absolute references resolved once, as for any Bundle that enters OsteoWatch.
      const resources: Resource[] = resolveEntries((body.resources.entry ?? []) as EntryLike[]).resources;
      const asOf = body.asOf ?? dayIn(o.now?.() ?? new Date(), o.timeZone);
      const view = timelineView({
        patientId: body.patientId,
        asOf,
        resources,
        exposure: o.exposure,
        screening: o.screening,
        cohorts: o.cohorts,
      });
      res.set('Cache-Control', 'no-store').json(view);
    },
  );
  return router;
}
