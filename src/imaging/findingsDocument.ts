/**
 * The imaging findings document (README, "Imaging findings document"), validated with zod: extent fields
 * only where they apply (hip share and Steinberg share at the hip, condyles and articular surface at the knee),
 * one entry per joint and side.
 */
import { z } from 'zod';

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

export const findingsDocumentSchema = z
  .object({
    patient: z.string().regex(/^Patient\/[A-Za-z0-9\-.]{1,64}$/, { error: 'patient must be "Patient/<id>"' }),
    studyInstanceUid: z
      .string()
      .regex(/^[0-2](\.(0|[1-9][0-9]*))+$/, { error: 'studyInstanceUid must be a DICOM UID (digits and dots)' })
      .max(64),
    studyDate: z.iso.date({ error: 'studyDate must be YYYY-MM-DD' }),
    reader: z
      .object({
        display: z.string().min(1),
        reference: z
          .string()
          .regex(/^(Practitioner|Device|Organization)\/[A-Za-z0-9\-.]{1,64}$/)
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
