/**
 * CDS Hooks 2.0 request and feedback bodies (zod). Lenient where real clients deviate without harm
 * (the Sandbox's drafts), strict where a mistake would change the answer.
 */
import { isResourceType, tryGetDataType } from '@medplum/core';
import { z } from 'zod';
import { overrideReasonSchema } from '../audit/records.ts';
import { OsteoWatchError } from '../errors.ts';
import { loadFhirDefinitions } from '../fhir/definitions.ts';
import { FHIR_ID, FHIR_ID_PATTERN } from '../terminology/fhirId.ts';

const fhirAuthorization = z.object({
  access_token: z.string().min(1),
  token_type: z.string().regex(/^bearer$/i, { error: 'token_type must be Bearer' }),
  expires_in: z.number().optional(),
  scope: z.string().optional(),
  subject: z.string().optional(),
  patient: z.string().optional(),
});

const reference = z
  .string()
  .regex(new RegExp(`^[A-Z][A-Za-z]+/${FHIR_ID_PATTERN}$`), { error: 'must be a reference Type/id' });

export const hookRequestSchema = z
  .object({
    hook: z.string().min(1),
    hookInstance: z.string().min(1).max(128),
    fhirServer: z.url({ error: 'fhirServer must be a URL' }).optional(),
    fhirAuthorization: fhirAuthorization.optional(),
    context: z.looseObject({
      userId: reference.optional(),
      patientId: z.string().regex(FHIR_ID, { error: 'patientId must be a FHIR id' }),
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

// ---------------------------------------------------------------------------------------------------------------
// JSON and FHIR shape at the boundary: what the code after it may take for granted

/**
 * How deep a request's JSON may nest. FHIR resources nest a dozen levels (an extension in an extension in a
 * dosage in a contained resource in a Bundle entry); 64 leaves room for that and keeps every later walk over the
 * value (audit serialisation, String(), our own recursion) far from the stack limit.
 */
export const MAX_JSON_DEPTH = 64;

interface Frame {
  v: unknown;
  depth: number;
  up?: Frame;
  key?: string | number;
}

const pathOf = (f: Frame | undefined, root: string): string => {
  const parts: string[] = [];
  for (let x = f; x?.up; x = x.up) parts.push(typeof x.key === 'number' ? `[${x.key}]` : `.${x.key}`);
  return root + parts.reverse().join('');
};

/**
 * The first thing in a parsed JSON value that no FHIR or CDS Hooks value can be: nesting deeper than
 * MAX_JSON_DEPTH, or a string (or member name) that is not Unicode text — a lone surrogate such as "\ud800",
 * which JSON's escapes allow but RFC 8259 §8.2 (https://www.rfc-editor.org/rfc/rfc8259#section-8.2) calls
 * unpredictable, and which FHIR strings (https://hl7.org/fhir/R4/datatypes.html#string) and the audit store's
 * UTF-8 cannot hold. Iterative, so that the check itself cannot overflow the stack. Returns `{ path, problem }`.
 */
export function jsonProblem(value: unknown, root: string): { path: string; problem: string } | undefined {
  const stack: Frame[] = [{ v: value, depth: 0 }];
  while (stack.length) {
    const f = stack.pop()!;
    const v = f.v;
    if (typeof v === 'string') {
      if (!v.isWellFormed()) return { path: pathOf(f, root), problem: 'is not Unicode text (a lone surrogate)' };
      continue;
    }
    if (!v || typeof v !== 'object') continue;
    if (f.depth >= MAX_JSON_DEPTH)
      return { path: pathOf(f, root), problem: `nests deeper than ${MAX_JSON_DEPTH} levels` };
    if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) stack.push({ v: v[i], depth: f.depth + 1, up: f, key: i });
      continue;
    }
    for (const k of Object.keys(v)) {
      if (!k.isWellFormed())
        return { path: pathOf(f, root), problem: 'has a member name that is not Unicode text (a lone surrogate)' };
      stack.push({ v: (v as Record<string, unknown>)[k], depth: f.depth + 1, up: f, key: k });
    }
  }
  return undefined;
}

/** A request body checked by jsonProblem: 400 naming the field (OperationOutcome.issue.expression). */
export function assertJsonShape(value: unknown, root = ''): void {
  const p = jsonProblem(value, root);
  if (!p) return;
  const path = p.path.replace(/^\./, '') || 'body';
  throw new OsteoWatchError('invalid', `${path}: ${p.problem}`, { code: 'structure', expression: [path] });
}

const NUMBER_TYPES = new Set(['decimal', 'integer', 'positiveInt', 'unsignedInt', 'integer64']);

interface Slot {
  isArray: boolean;
  code: string;
}
const slotCache = new Map<string, Map<string, Slot> | null>();

/** The JSON member names of a FHIR type and what each holds; choice elements value[x] become valueQuantity etc. */
function slotsOf(typeName: string): Map<string, Slot> | null {
  const cached = slotCache.get(typeName);
  if (cached !== undefined) return cached;
  const schema = tryGetDataType(typeName);
  let slots: Map<string, Slot> | null = null;
  if (schema) {
    slots = new Map();
    for (const [name, el] of Object.entries(schema.elements)) {
      const isArray = !!el.isArray || el.max > 1;
      if (name.endsWith('[x]')) {
        const stem = name.slice(0, -3);
        for (const t of el.type)
          slots.set(stem + t.code[0]!.toUpperCase() + t.code.slice(1), { isArray, code: t.code });
      } else if (el.type.length) slots.set(name, { isArray, code: el.type[0]!.code });
    }
  }
  slotCache.set(typeName, slots);
  return slots;
}

const isPrimitiveCode = (code: string) => /^[a-z]/.test(code);

function primitiveProblem(v: unknown, code: string): string | undefined {
  if (code === 'boolean') return typeof v === 'boolean' ? undefined : 'must be a boolean';
  if (NUMBER_TYPES.has(code)) return typeof v === 'number' ? undefined : 'must be a number';
  return typeof v === 'string' ? undefined : 'must be a string';
}

export interface FhirShapeOptions {
  /** `Type.element` of repeating elements where a client's single value is accepted in place of an array. */
  singleForArray?: ReadonlySet<string>;
}

/**
 * The first place where a FHIR resource in JSON breaks the R4 JSON representation
 * (https://hl7.org/fhir/R4/json.html): a repeating element that is not an array, a single one that is, an array
 * item that is null, a primitive of the wrong JSON type, a complex value that is not an object, an unknown
 * resourceType, an id that is not a FHIR id. What the code reads may then be taken for granted. Cardinality
 * minimums, bindings and invariants are not checked (a validator's job; real clients' data often misses them
 * harmlessly), and elements we do not know are not looked into. Expects a value that passed jsonProblem (its
 * recursion is bounded by MAX_JSON_DEPTH).
 */
export function fhirShapeProblem(
  value: unknown,
  root: string,
  o: FhirShapeOptions = {},
): { path: string; problem: string } | undefined {
  // The checks read Medplum's R4 type definitions: loaded once per process, here too so that no caller depends
  // on start-up order.
  loadFhirDefinitions();
  const resource = (v: unknown, path: string): { path: string; problem: string } | undefined => {
    if (!v || typeof v !== 'object' || Array.isArray(v))
      return { path, problem: 'must be a FHIR resource (an object)' };
    const r = v as Record<string, unknown>;
    if (typeof r.resourceType !== 'string' || !isResourceType(r.resourceType))
      return { path: `${path}.resourceType`, problem: 'must name a FHIR R4 resource type' };
    if (r.id !== undefined && (typeof r.id !== 'string' || !FHIR_ID.test(r.id)))
      return { path: `${path}.id`, problem: 'must be a FHIR id (1–64 of A–Z a–z 0–9 - .)' };
    return complex(r, r.resourceType, path);
  };
  const complex = (
    obj: Record<string, unknown>,
    typeName: string,
    path: string,
  ): { path: string; problem: string } | undefined => {
    const slots = slotsOf(typeName);
    if (!slots) return undefined;
    for (const [key, v] of Object.entries(obj)) {
      const at = `${path}.${key}`;
      if (key.startsWith('_')) {
        // A primitive's id and extensions (https://hl7.org/fhir/R4/json.html#primitive): an object, or an
        // array of objects and nulls for a repeating primitive.
        const ok =
          v === null ||
          (typeof v === 'object' &&
            (!Array.isArray(v) || v.every((x) => x === null || (typeof x === 'object' && !Array.isArray(x)))));
        if (!ok) return { path: at, problem: 'must be an object (a primitive’s id and extensions)' };
        continue;
      }
      const slot = slots.get(key);
      if (!slot) continue;
      let items: unknown[];
      if (slot.isArray) {
        if (Array.isArray(v)) items = v;
        else if (o.singleForArray?.has(`${typeName}.${key}`) && v && typeof v === 'object') items = [v];
        else return { path: at, problem: 'must be an array' };
      } else {
        if (Array.isArray(v)) return { path: at, problem: 'must be a single value, not an array' };
        items = [v];
      }
      const primitive = isPrimitiveCode(slot.code);
      const nullable = primitive && slot.isArray && Object.hasOwn(obj, `_${key}`);
      for (const [i, item] of items.entries()) {
        const itemAt = slot.isArray && Array.isArray(v) ? `${at}[${i}]` : at;
        if (item === null) {
          if (nullable) continue;
          return { path: itemAt, problem: 'must not be null' };
        }
        if (primitive) {
          const p = primitiveProblem(item, slot.code);
          if (p) return { path: itemAt, problem: p };
          continue;
        }
        if (slot.code === 'Resource') {
          const p = resource(item, itemAt);
          if (p) return p;
          continue;
        }
        if (typeof item !== 'object' || Array.isArray(item)) return { path: itemAt, problem: 'must be an object' };
        const p = complex(item as Record<string, unknown>, slot.code, itemAt);
        if (p) return p;
      }
    }
    return undefined;
  };
  return resource(value, root);
}
