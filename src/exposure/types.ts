import type { IngredientId } from './ingredients.ts';
import type { RouteClass } from './routes.ts';

export type MedicationRecordType = 'MedicationStatement' | 'MedicationRequest' | 'MedicationAdministration';

export type IssueCode =
  | 'dose-implausible'
  | 'no-medication-records'
  | 'status-unknown'
  | 'status-on-hold'
  | 'no-dosage'
  | 'no-dose'
  | 'dose-unit-unknown'
  | 'weight-based-dose'
  | 'strength-unknown'
  | 'strength-conflict'
  | 'code-display-conflict'
  | 'medication-unresolved'
  | 'medication-unidentified'
  | 'no-equivalence-factor'
  | 'budesonide-excluded'
  | 'budesonide-counted'
  | 'route-excluded'
  | 'route-flagged'
  | 'route-unknown'
  | 'ingredient-from-text'
  | 'dose-range'
  | 'frequency-range'
  | 'count-range'
  | 'as-needed'
  | 'timing-assumed-once-daily'
  | 'period-without-unit'
  | 'unknown-period-unit'
  | 'unknown-timing-code'
  | 'unknown-day-of-week'
  | 'frequency-implausible'
  | 'date-implausible'
  | 'no-start-date'
  | 'duration-unknown'
  | 'open-ended-through-as-of'
  | 'duration-from-supply'
  | 'single-day-assumed'
  | 'step-without-bounds'
  | 'split-dosage'
  | 'bounds-after-validity'
  | 'contained-reference-in-bundle'
  | 'infusion-duration-unknown'
  | 'administration-stopped'
  | 'stopped-without-end';

export type Severity = 'error' | 'warning' | 'info';

export interface ExposureIssue {
  /** "MedicationStatement/123" */
  source: string;
  code: IssueCode;
  message: string;
  /** error: the record (or part of it) was not counted; warning: counted with an assumption; info: a note. */
  severity: Severity;
}

export type ContributionStatus =
  /** counted in the total */
  | 'counted'
  /** recognised, but policy excludes it (route, budesonide) */
  | 'excluded'
  /** the same therapy is counted through another record */
  | 'duplicate'
  /** could not be quantified: mg is null and an issue says why */
  | 'unquantified';

export interface Contribution {
  source: string;
  resourceType: MedicationRecordType;
  ingredient: IngredientId;
  route: RouteClass;
  /** Prednisolone-equivalent mg counted through the as-of day; null when it could not be computed. */
  mg: number | null;
  /** mg of the ingredient itself before equivalence. */
  ingredientMg: number | null;
  /** Days with at least one counted dose. */
  days: number;
  firstDay: string | null;
  lastDay: string | null;
  status: ContributionStatus;
  /** Readable arithmetic, e.g. "prednisolone oral: 2 × 10 mg/d × 28 d = 560 mg". */
  derivation: string;
  /** For duplicates: the record through which the therapy is counted. */
  countedVia?: string;
}

export interface TimelineDay {
  date: string;
  mg: number;
  cumulativeMg: number;
}

export interface ExposureSummary {
  patient?: string;
  asOf: string;
  /** Prednisolone-equivalent mg through the as-of day; null when nothing could be quantified but records exist. */
  cumulativeMg: number | null;
  /** True when some records could not be quantified, so the true total may be higher. */
  cumulativeIsLowerBound: boolean;
  /**
   * Prednisolone-equivalent mg per day of the regimens active on the as-of day; null when a record that may be
   * running that day could not be quantified (never 0 for unknown).
   */
  currentDailyMg: number | null;
  firstExposure: string | null;
  /** The largest counted prednisolone-equivalent dose on one day, and the (first) day it was given. */
  peakDaily?: { mg: number; on: string } | null;
  threshold: {
    mg: number;
    /** First day on which the cumulative dose reached the threshold. */
    crossedOn: string | null;
    /**
     * When not yet crossed: the day it will be reached if the recorded schedule is followed (future taper steps,
     * end dates, open-ended therapy at its dose), looked at up to ten years ahead; null when the schedule ends
     * first or the total is unknown.
     */
    projectedOn: string | null;
  };
  /**
   * Beside threshold.projectedOn: the day the threshold would be reached if today's daily dose went on unchanged;
   * null when crossed, when the current dose is 0 or unknown. Always set by computeExposure (optional only for
   * summaries recorded before it existed).
   */
  projectedAtCurrentDoseOn?: string | null;
  contributions: Contribution[];
  issues: ExposureIssue[];
  timeline: TimelineDay[];
}
