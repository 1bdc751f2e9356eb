/**
 * CDS Hooks 2.0 request and feedback bodies (zod). Lenient where real clients deviate without harm
 * (the Sandbox's drafts), strict where a mistake would change the answer.
 */
import { z } from 'zod';
import { overrideReasonSchema } from '../audit/records.ts';

const fhirAuthorization = z.object({
  access_token: z.string().min(1),
  token_type: z.string().regex(/^bearer$/i, { error: 'token_type must be Bearer' }),
  expires_in: z.number().optional(),
  scope: z.string().optional(),
  subject: z.string().optional(),
  patient: z.string().optional(),
});

const reference = z.string().regex(/^[A-Z][A-Za-z]+\/[A-Za-z0-9\-.]{1,64}$/, { error: 'must be a reference Type/id' });

export const hookRequestSchema = z
  .object({
    hook: z.string().min(1),
    hookInstance: z.string().min(1).max(128),
    fhirServer: z.url({ error: 'fhirServer must be a URL' }).optional(),
    fhirAuthorization: fhirAuthorization.optional(),
    context: z.looseObject({
      userId: reference.optional(),
      patientId: z.string().regex(/^[A-Za-z0-9\-.]{1,64}$/, { error: 'patientId must be a FHIR id' }),
      encounterId: z.string().optional(),
      selections: z.array(z.string()).optional(),
      draftOrders: z
        .looseObject({
          resourceType: z.literal('Bundle', { error: 'draftOrders must be a Bundle' }),
          entry: z
            .array(z.looseObject({ resource: z.looseObject({ resourceType: z.string() }).optional() }))
            .optional(),
        })
        .optional(),
    }),
    prefetch: z.record(z.string(), z.unknown()).optional(),
    extension: z.record(z.string(), z.unknown()).optional(),
  })
  .refine((r) => !r.fhirAuthorization || !!r.fhirServer, {
    error: 'fhirServer is required when fhirAuthorization is given (cds-r-1)',
    path: ['fhirServer'],
  });

export type HookRequest = z.infer<typeof hookRequestSchema>;

/** patient-view context (https://cds-hooks.hl7.org/hooks/patient-view/): the common request checks suffice. */
export const patientViewContext = z.looseObject({});

/**
 * order-select and order-sign carry the draft orders (https://cds-hooks.hl7.org/hooks/order-select/,
 * https://cds-hooks.hl7.org/hooks/order-sign/); without them there is nothing to project.
 */
export const orderSelectContext = z.looseObject({
  draftOrders: z.looseObject({}, { error: 'context.draftOrders is required for order-select' }),
});
export const orderSignContext = z.looseObject({
  draftOrders: z.looseObject({}, { error: 'context.draftOrders is required for order-sign' }),
});

const rfc3339 = z.iso.datetime({ offset: true, error: 'outcomeTimestamp must be an RFC 3339 date-time' });

export const feedbackBodySchema = z.object({
  feedback: z
    .array(
      z
        .object({
          card: z.string().min(1).max(256),
          outcome: z.enum(['accepted', 'overridden'], { error: 'outcome must be accepted or overridden' }),
          acceptedSuggestions: z.array(z.object({ id: z.string().min(1) })).optional(),
          overrideReason: overrideReasonSchema.optional(),
          outcomeTimestamp: rfc3339,
        })
        .refine((f) => f.outcome !== 'accepted' || (f.acceptedSuggestions?.length ?? 0) > 0, {
          error: 'acceptedSuggestions is required when outcome is accepted (cds-fb-2)',
          path: ['acceptedSuggestions'],
        }),
    )
    .min(1, { error: 'feedback must hold at least one entry' }),
});
export type FeedbackBody = z.infer<typeof feedbackBodySchema>;
