/**
 * The shape of a regimen before any dose is laid: the record's window (start, end, and how an open end is
 * closed) and its Dosages grouped into steps.
 *
 * Steps run in `sequence` order; dosages sharing a sequence number run together (morning and evening doses).
 * Dosages without a sequence number, when others have one, each become a step of their own after the numbered
 * ones, in the order written. Without any sequence numbers, several dosages that each carry bounds are steps in
 * the order written; otherwise they are concurrent parts of one day. The Swiss split dosage (CH EMED / eMediplan:
 * a base entry with the bounds, then entries with sequence 2, 3, … naming only other times of day and a dose) is
 * one day's doses, not a taper.
 */
import type { Dosage, MedicationRequest, MedicationStatement } from '@medplum/fhirtypes';
import { DAY_MS, parseFhirDate } from './dates.ts';
import type { EvaluationContext, MedicationRecord } from './evaluation.ts';
import { type DoseAmount, doseAmount, durationDays } from './units.ts';

/** The wall-clock span a record covers (dates.ts), before its steps are laid onto it. */
export interface RecordWindow {
  startMs?: number;
  /** Explicit end of the record, exclusive (the moment after the inclusive FHIR end). */
  endMs?: number;
  /** How an open end is closed when no step bounds it. */
  openEnd:
    | 'as-of'
    | 'single-day'
    | 'unknown'
    | 'stopped'
    | { supplyDays: number }
    | { supplyQuantity: Exclude<DoseAmount, { kind: 'unknown' | 'per-weight' }> };
  /**
   * A MedicationRequest's dispense validity end, exclusive, when it dispenses no stated supply: no dose of the
   * order is counted after it, whatever its dosage bounds say.
   */
  validityEndMs?: number;
  /** The record may still be taken after its known doses (active, or a counted draft). */
  ongoing: boolean;
}

const boundsOf = (d: Dosage | undefined) => d?.timing?.repeat?.boundsPeriod;

function statementWindow(s: MedicationStatement, dosages: readonly Dosage[]): RecordWindow {
  const ongoing = s.status === 'active';
  const closing = ongoing ? 'as-of' : s.status === 'stopped' ? 'stopped' : 'unknown';
  if (s.effectivePeriod) {
    const start = parseFhirDate(s.effectivePeriod.start);
    const end = parseFhirDate(s.effectivePeriod.end);
    return { startMs: start?.wallMs, endMs: end?.wallEndMs, openEnd: closing, ongoing };
  }
  const at = parseFhirDate(s.effectiveDateTime);
  if (at) return { startMs: at.wallMs, openEnd: ongoing ? 'as-of' : 'single-day', ongoing };
  // No effective[x] (the CH EMED / eMediplan shape): the treatment's dates are the dosage bounds. When only one
  // dosage carries them (the base entry), its end is the record's end; steps with their own bounds keep them.
  const bounded = dosages.filter((d) => boundsOf(d));
  let startMs: number | undefined;
  for (const d of bounded) {
    const start = parseFhirDate(boundsOf(d)!.start)?.wallMs;
    if (start !== undefined && (startMs === undefined || start < startMs)) startMs = start;
  }
  const endMs = bounded.length === 1 ? parseFhirDate(boundsOf(bounded[0])!.end)?.wallEndMs : undefined;
  return { startMs, ...(endMs !== undefined ? { endMs } : {}), openEnd: closing, ongoing };
}

/** An order starts at its first bounds, validity or authoring, and lasts as long as its dispensed supply. */
function requestWindow(r: MedicationRequest, ctx: Pick<EvaluationContext, 'countDrafts'>): RecordWindow {
  const firstBounds = r.dosageInstruction?.find((d) => boundsOf(d)?.start)?.timing?.repeat?.boundsPeriod;
  const validity = r.dispenseRequest?.validityPeriod;
  const startMs =
    parseFhirDate(firstBounds?.start)?.wallMs ??
    parseFhirDate(validity?.start)?.wallMs ??
    parseFhirDate(r.authoredOn)?.wallMs;
  const validityEndMs = parseFhirDate(validity?.end)?.wallEndMs;
  const isDraft = ctx.countDrafts === true && r.status === 'draft';
  const ongoing = r.status === 'active' || isDraft;
  const repeats = 1 + (r.dispenseRequest?.numberOfRepeatsAllowed ?? 0);
  const supply = r.dispenseRequest?.expectedSupplyDuration;
  if (supply) {
    const days = durationDays(supply);
    if (days !== undefined && days > 0)
      return { startMs, ongoing, openEnd: { supplyDays: Math.round(days * repeats) } };
  }
  if (r.dispenseRequest?.quantity) {
    const q = doseAmount(r.dispenseRequest.quantity);
    if (q && q.kind !== 'unknown' && q.kind !== 'per-weight' && repeats >= 1) {
      const scaled =
        q.kind === 'mass'
          ? { ...q, mg: q.mg * repeats }
          : q.kind === 'volume'
            ? { ...q, mL: q.mL * repeats }
            : { ...q, count: q.count * repeats };
      return { startMs, ongoing, openEnd: { supplyQuantity: scaled } };
    }
  }
  // Without a dispensed supply nothing of the order can be had after its validity: its end caps every step.
  if (validityEndMs !== undefined) return { startMs, ongoing, endMs: validityEndMs, validityEndMs, openEnd: 'unknown' };
  return { startMs, ongoing, openEnd: ongoing ? 'as-of' : r.status === 'stopped' ? 'stopped' : 'unknown' };
}

export function windowOf(
  record: MedicationStatement | MedicationRequest,
  dosages: readonly Dosage[],
  ctx: Pick<EvaluationContext, 'countDrafts'>,
): RecordWindow {
  return record.resourceType === 'MedicationStatement' ? statementWindow(record, dosages) : requestWindow(record, ctx);
}

/** One Dosage in its step; `bounds` is the dosage whose timing bounds apply (a split entry uses its base's). */
export interface StepDosage {
  dosage: Dosage;
  bounds: Dosage;
  /** 1-based position of its step, for messages. */
  step: number;
}

export interface Grouping {
  groups: StepDosage[][];
  /** Set when the dosages were read as one day's split doses. */
  split?: 'profile' | 'shape';
}

const SWISS_PROFILE = /fhir\.ch\/ig\/ch-emed|emediplan\.ch/;

export function groupDosages(record: MedicationRecord, dosages: readonly Dosage[]): Grouping {
  if (dosages.length === 1) return { groups: [[{ dosage: dosages[0]!, bounds: dosages[0]!, step: 1 }]] };
  const indexed = dosages.map((d, i) => ({ d, i, seq: d.sequence ?? Number.NaN }));
  const anySeq = indexed.some((x) => !Number.isNaN(x.seq));
  const raw: Dosage[][] = [];
  if (anySeq) {
    const sorted = [...indexed].sort(
      (a, b) => (Number.isNaN(a.seq) ? Infinity : a.seq) - (Number.isNaN(b.seq) ? Infinity : b.seq) || a.i - b.i,
    );
    let current: number | undefined;
    for (const x of sorted) {
      // A dosage without a sequence number is a step of its own: NaN never equals the previous number.
      if (raw.length === 0 || x.seq !== current || Number.isNaN(x.seq)) raw.push([]);
      raw[raw.length - 1]!.push(x.d);
      current = x.seq;
    }
  } else {
    const allBounded =
      dosages.length > 1 &&
      dosages.every(
        (d) => d.timing?.repeat?.boundsPeriod || d.timing?.repeat?.boundsDuration || d.timing?.repeat?.count,
      );
    if (allBounded) for (const d of dosages) raw.push([d]);
    else raw.push([...dosages]);
  }
  const split = raw.length > 1 ? splitDosage(record, raw) : undefined;
  if (split) {
    const base = raw[0]![0]!;
    return { groups: [raw.map((g) => ({ dosage: g[0]!, bounds: base, step: 1 }))], split };
  }
  return { groups: raw.map((g, i) => g.map((dosage) => ({ dosage, bounds: dosage, step: i + 1 }))) };
}

const timesOfDay = (d: Dosage): string[] => [...(d.timing?.repeat?.when ?? []), ...(d.timing?.repeat?.timeOfDay ?? [])];

/**
 * CH EMED split dosing (ch-dosage-2/4): one dosage per sequence number; the later ones carry nothing but their
 * time of day and dose; no two name the same time. Read as concurrent when the record claims a Swiss profile, or
 * when the base entry has no end of its own, so that a taper reading could not place the later steps anyway.
 */
function splitDosage(record: MedicationRecord, groups: Dosage[][]): 'profile' | 'shape' | undefined {
  if (groups.some((g) => g.length !== 1)) return undefined;
  const seen = new Set<string>();
  for (const [i, [d]] of groups.entries()) {
    const r = d!.timing?.repeat;
    const times = timesOfDay(d!);
    if (!r || times.length === 0 || r.count !== undefined || r.boundsDuration || r.boundsRange) return undefined;
    if (i > 0 && (r.boundsPeriod || r.frequency !== undefined || r.period !== undefined || r.dayOfWeek?.length))
      return undefined;
    for (const t of times) {
      if (seen.has(t)) return undefined;
      seen.add(t);
    }
  }
  if (record.meta?.profile?.some((p) => SWISS_PROFILE.test(p))) return 'profile';
  return boundsOf(groups[0]![0])?.end === undefined ? 'shape' : undefined;
}

/** The as-of day as a wall-clock span [start, end). */
export function asOfSpan(asOf: number): { startMs: number; endMs: number } {
  return { startMs: asOf * DAY_MS, endMs: (asOf + 1) * DAY_MS };
}
