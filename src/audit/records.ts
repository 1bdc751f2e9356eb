/**
 * What the audit trail accepts, validated with zod at the boundary. Only the fields listed here are stored:
 * anything else a caller passes (an access token, a whole prefetch bundle) is dropped, never persisted.
 */
import { z } from 'zod';

const iso = z.iso.datetime({ offset: true, error: 'must be an ISO 8601 date-time' });
const day = z.iso.date({ error: 'must be a date YYYY-MM-DD' });
const id = z.string().min(1).max(256);

export const contributionSchema = z.object({
  source: z.string(),
  resourceType: z.string().optional(),
  ingredient: z.string(),
  route: z.string().optional(),
  mg: z.number().nullable(),
  ingredientMg: z.number().nullable().optional(),
  days: z.number().optional(),
  firstDay: z.string().nullable().optional(),
  lastDay: z.string().nullable().optional(),
  status: z.string().optional(),
  derivation: z.string().optional(),
  countedVia: z.string().optional(),
});

export const exposureSnapshotSchema = z.object({
  asOf: day,
  cumulativeMg: z.number().nullable(),
  cumulativeIsLowerBound: z.boolean().default(false),
  currentDailyMg: z.number().nullable(),
  firstExposure: z.string().nullable().optional(),
  threshold: z.object({ mg: z.number().positive(), crossedOn: day.nullable(), projectedOn: day.nullable().optional() }),
  contributions: z.array(contributionSchema),
  issues: z.array(
    z.object({ source: z.string(), code: z.string(), message: z.string(), severity: z.string().optional() }),
  ),
});
export type ExposureSnapshot = z.infer<typeof exposureSnapshotSchema>;

/** A card as the trail keeps it: what identifies it, what the clinician read, the suggestions offered. */
export const cardRecordSchema = z.object({
  uuid: z.uuid({ error: 'card uuid must be a UUID' }),
  indicator: z.enum(['info', 'warning', 'critical']),
  summary: z.string().max(1000),
  source: z.object({ label: z.string(), url: z.string().optional(), topic: z.unknown().optional() }).optional(),
  suggestions: z.array(z.object({ uuid: z.string().optional(), label: z.string() })).optional(),
});
export type CardRecord = z.input<typeof cardRecordSchema>;

export const hookInvocationSchema = z.object({
  recordedAt: iso,
  service: id,
  hook: id,
  hookInstance: id,
  patientId: id.optional(),
  userRef: id.optional(),
  tenant: id.optional(),
  clientIss: z.string().max(2048).optional(),
  latencyMs: z.number().nonnegative().optional(),
  status: z.number().int().optional(),
  cards: z.array(cardRecordSchema).default([]),
  exposure: exposureSnapshotSchema.optional(),
  /** Versioned references of the medication records the recommendation was based on. */
  dataSources: z.array(z.string()).optional(),
  /** WB-MRI studies present in the EHR data of this call. */
  wbmriStudies: z.array(z.object({ date: day, reference: z.string().optional() })).optional(),
});
export type HookInvocationInput = z.input<typeof hookInvocationSchema>;
export type HookInvocation = z.output<typeof hookInvocationSchema>;

/** CDS Hooks feedback overrideReason: the Coding the clinician picked and/or a comment. */
export const overrideReasonSchema = z.object({
  reason: z
    .object({ code: z.string().optional(), system: z.string().optional(), display: z.string().optional() })
    .optional(),
  userComment: z.string().max(4000).optional(),
});

export const feedbackSchema = z.object({
  recordedAt: iso,
  service: id,
  card: z.string().min(1).max(256),
  outcome: z.enum(['accepted', 'overridden']),
  outcomeTimestamp: iso,
  acceptedSuggestions: z.array(z.object({ id: z.string() })).optional(),
  overrideReason: overrideReasonSchema.optional(),
  tenant: id.optional(),
  clientIss: z.string().max(2048).optional(),
});
export type FeedbackInput = z.input<typeof feedbackSchema>;

export const writeBackSchema = z.object({
  recordedAt: iso,
  patientId: id,
  studyUid: z.string().max(128).optional(),
  studyDate: day.optional(),
  /** What was written, e.g. "Observation/123/_history/1". */
  resourceRefs: z.array(z.string().min(1)).min(1),
  /** The FHIR server written to (base URL, no credentials). */
  fhirServer: z.string().optional(),
  actor: z.string().optional(),
  isWbMri: z.boolean().default(true),
});
export type WriteBackInput = z.input<typeof writeBackSchema>;

/**
 * A write-back refused before anything was written (invalid document, unknown patient, a study of another patient,
 * the FHIR server refusing): who asked and why, with the patient and study only as identifiers — never the
 * refused document's content, nor an error text that may quote it.
 */
export const writeBackRefusedSchema = z.object({
  recordedAt: iso,
  patientId: id.optional(),
  studyUid: z.string().max(128).optional(),
  /** The HTTP status the refusal was answered with (400, 409, 413, 422, 502, …). */
  status: z.number().int().min(400).max(599),
  /** The error kind (src/errors.ts: invalid, conflict, unprocessable, upstream, …), or too-large. */
  reason: z.string().regex(/^[a-z][a-z-]{0,63}$/),
  /** The document's fields found wrong, as FHIRPath expressions ("reader.display", "sites[0].joint"). */
  fields: z.array(z.string().max(128)).max(20).optional(),
  fhirServer: z.string().optional(),
  actor: z.string().optional(),
  tenant: id.optional(),
});
export type WriteBackRefusedInput = z.input<typeof writeBackRefusedSchema>;

export const surveillanceRunSchema = z.object({
  recordedAt: iso,
  runId: id,
  startedAt: iso.optional(),
  finishedAt: iso.optional(),
  summary: z.record(z.string(), z.unknown()).default({}),
});
export type SurveillanceRunInput = z.input<typeof surveillanceRunSchema>;

export const auditQuerySchema = z.object({
  recordedAt: iso,
  actor: z.string().max(512),
  query: z.string().max(2048),
  patientId: id.optional(),
});
export type AuditQueryInput = z.input<typeof auditQuerySchema>;
