/**
 * The imaging findings document (README, "Imaging findings document"), validated with zod: extent fields
 * only where they apply (hip share and Steinberg share at the hip, condyles and articular surface at the knee),
 * one entry per joint and side.
 */
import { z } from 'zod';
import { OsteoWatchError } from '../errors.ts';
import { FHIR_ID_PATTERN } from '../terminology/fhirId.ts';

export const JOINT_NAMES = ['hip', 'knee', 'ankle', 'shoulder', 'calcaneus'] as const;
export type JointName = (typeof JOINT_NAMES)[number];

const siteSchema = z
  .object({
    joint: z.enum(JOINT_NAMES, { error: `joint must be one of ${JOINT_NAMES.join(', ')}` }),
    side: z.enum(['left', 'right'], { error: 'side must be left or right' }),
    osteonecrosis: z.boolean({ error: 'osteonecrosis must be true or false' }),
    hipWeightBearingShare: z.enum(['<1/3', '1/3-2/3', '>2/3']).optional(),
    necroticSharePercent: z.number().min(0).max(100, { error: 'necroticSharePercent must be 0–100' }).optional(),
    condyles: z
      .array(z.enum(['medial-femoral', 'lateral-femoral', 'medial-tibial', 'lateral-tibial']))
      .min(1)
      .optional(),
    articularSurface: z.enum(['<25%', '25-50%', '>50%']).optional(),
    collapse: z.boolean().optional(),
  })
  .strict()
  .superRefine((s, ctx) => {
    if (s.joint !== 'hip' && s.hipWeightBearingShare)
      ctx.addIssue({
        code: 'custom',
        message: 'hipWeightBearingShare applies to the hip only',
        path: ['hipWeightBearingShare'],
      });
    if (s.joint !== 'knee' && (s.condyles || s.articularSurface))
      ctx.addIssue({
        code: 'custom',
        message: 'condyles and articularSurface apply to the knee only',
        path: ['joint'],
      });
    if (
      !s.osteonecrosis &&
      (s.hipWeightBearingShare || s.condyles || s.articularSurface || s.collapse || (s.necroticSharePercent ?? 0) > 0)
    )
      ctx.addIssue({
        code: 'custom',
        message: 'an absent finding cannot carry an extent or collapse',
        path: ['osteonecrosis'],
      });
  });

/**
 * Control characters (Unicode Cc: C0, DEL, C1) other than tab and line feed: no reader's name or free text holds
 * one; a NUL cannot be stored by PostgreSQL and the others are a forged or mis-decoded value.
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: the control characters are what is refused
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/;

/** Free text (the reader's name): Unicode text, no control characters but tab and newline, not blank. */
const freeText = (field: string, max: number) =>
  z
    .string({ error: `${field} must be a string` })
    .max(max, { error: `${field} must be at most ${max} characters` })
    .refine((s) => s.isWellFormed(), { error: `${field} is not Unicode text (a lone surrogate)` })
    .refine((s) => !CONTROL.test(s), { error: `${field} contains a control character` })
    .refine((s) => /\S/.test(s), { error: `${field} must not be blank` });

/**
 * The earliest study date taken: no MRI was read before 1900 (the first clinical MR images are from the 1970s);
 * an earlier date is a placeholder (0000-01-01, 1800-01-01) or a mis-read DICOM DA.
 */
export const EARLIEST_STUDY_DATE = '1900-01-01';

export const findingsDocumentSchema = z
  .object({
    patient: z.string().regex(new RegExp(`^Patient/${FHIR_ID_PATTERN}$`), { error: 'patient must be "Patient/<id>"' }),
    studyInstanceUid: z
      .string()
      .regex(/^[0-2](\.(0|[1-9][0-9]*))+$/, { error: 'studyInstanceUid must be a DICOM UID (digits and dots)' })
      .max(64),
    studyDate: z.iso
      .date({ error: 'studyDate must be YYYY-MM-DD' })
      .refine((d) => d >= EARLIEST_STUDY_DATE, { error: `studyDate must not be before ${EARLIEST_STUDY_DATE}` }),
    reader: z
      .object({
        display: freeText('reader.display', 1024),
        reference: z
          .string()
          .regex(new RegExp(`^(Practitioner|Device|Organization)/${FHIR_ID_PATTERN}$`))
          .optional(),
      })
      .strict(),
    sites: z.array(siteSchema).min(1, { error: 'sites must list at least one joint and side' }),
  })
  .strict()
  .superRefine((d, ctx) => {
    const seen = new Set<string>();
    d.sites.forEach((s, i) => {
      const key = `${s.joint}/${s.side}`;
      if (seen.has(key))
        ctx.addIssue({ code: 'custom', message: `${s.side} ${s.joint} is listed twice`, path: ['sites', i] });
      seen.add(key);
    });
  });

export type FindingsDocument = z.infer<typeof findingsDocumentSchema>;
export type Site = FindingsDocument['sites'][number];

/** A zod issue path as a FHIRPath-like expression: `sites[1].joint`. */
function expressionOf(path: ReadonlyArray<PropertyKey>): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : `${out ? '.' : ''}${String(p)}`;
  return out;
}

/**
 * The findings document in a request body: the document, or an `invalid` error (400) whose message names each
 * problem and whose expression names each field (OperationOutcome.issue.expression).
 */
export function parseFindingsDocument(body: unknown): FindingsDocument {
  const parsed = findingsDocumentSchema.safeParse(body);
  if (parsed.success) return parsed.data;
  const problems: string[] = [];
  const expression: string[] = [];
  for (const issue of parsed.error.issues) {
    const at = expressionOf(issue.path);
    // A member the document does not have is named by its own path, so the caller sees which one.
    const fields = issue.code === 'unrecognized_keys' ? issue.keys.map((k) => (at ? `${at}.${k}` : k)) : [at];
    for (const f of fields) if (f && !expression.includes(f)) expression.push(f);
    // The field's own messages say its name; the others get it in front.
    problems.push(at && !issue.message.startsWith(at) ? `${at}: ${issue.message}` : issue.message);
  }
  throw new OsteoWatchError('invalid', problems.join('; '), expression.length ? { expression } : {});
}

/** Study dates after this one are in the future wherever the study was read (UTC+14 is a day ahead of UTC). */
export function latestStudyDate(now: Date): string {
  return new Date(now.getTime() + 86_400_000).toISOString().slice(0, 10);
}

/** A study read after the day it is posted is a wrong date (a typo, a swapped DA): refused, 400 naming studyDate. */
export function assertStudyDateNotFuture(doc: Pick<FindingsDocument, 'studyDate'>, now: Date): void {
  const latest = latestStudyDate(now);
  if (doc.studyDate > latest)
    throw new OsteoWatchError('invalid', `studyDate: ${doc.studyDate} is in the future (after ${latest})`, {
      expression: ['studyDate'],
    });
}
