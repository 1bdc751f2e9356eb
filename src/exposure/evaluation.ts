/**
 * What evaluating one medication record works with and produces: the context it is evaluated in, the
 * RecordEvaluation it fills in, and the Collector of its issues. Shared by evaluate.ts, administration.ts and
 * regimen.ts, so that those never need to import each other.
 */
import type {
  Medication,
  MedicationAdministration,
  MedicationRequest,
  MedicationStatement,
  Reference,
} from '@medplum/fhirtypes';
import type { ExposureConfig } from './config.ts';
import type { Day } from './dates.ts';
import type { DayDoses } from './dayDoses.ts';
import type { IngredientId } from './ingredients.ts';
import type { RouteClass } from './routes.ts';
import type { ContributionStatus, ExposureIssue, IssueCode, MedicationRecordType, Severity } from './types.ts';

export type MedicationRecord = MedicationStatement | MedicationRequest | MedicationAdministration;

export interface EvaluationContext {
  asOf: Day;
  config: ExposureConfig;
  /** Resolves a medicationReference (contained "#id", relative "Medication/id", absolute or urn:uuid). */
  medication: (record: MedicationRecord, ref: Reference) => Medication | undefined;
  /** order-select / order-sign: count draft MedicationRequests as the orders about to be placed. */
  countDrafts?: boolean;
}

export interface RecordEvaluation {
  source: string;
  resourceType: MedicationRecordType;
  ingredient: IngredientId;
  route: RouteClass;
  /** Prednisolone-equivalent mg per mg of ingredient; null when there is no factor. */
  factor: number | null;
  status: ContributionStatus;
  /** Ingredient mg per day, through the as-of day. */
  days: DayDoses;
  /** Ingredient mg per day of the steps active on the as-of day. */
  currentDailyIngredientMg: number;
  /**
   * A step that may be running on the as-of day could not be quantified: the current dose is unknown. Set once
   * the regimen was read; undefined when evaluation stopped before (the engine then judges from the dates).
   */
  currentDailyUnknown?: boolean;
  /**
   * Ingredient mg per day after the as-of day as the record schedules it, up to the projection horizon; laid
   * only when the engine projects the threshold. Absent when nothing is scheduled after the as-of day.
   */
  future?: () => DayDoses;
  /** Parts of the derivation, one per step. */
  steps: string[];
  issues: ExposureIssue[];
  /** True when some part of the record could not be quantified. */
  partial: boolean;
  label: string;
}

/** Issues of one record, each listed once; any error marks the record as only partly quantified. */
export class Collector {
  readonly issues: ExposureIssue[] = [];
  partial = false;
  readonly source: string;
  constructor(source: string) {
    this.source = source;
  }
  add(code: IssueCode, message: string, severity: Severity): void {
    if (severity === 'error') this.partial = true;
    if (!this.issues.some((i) => i.code === code && i.message === message))
      this.issues.push({ source: this.source, code, message, severity });
  }
}

/** Numbers in derivation and issue text: at most two decimals, no trailing zeros. */
export const fmt = (n: number): string => String(Math.round(n * 100) / 100);
