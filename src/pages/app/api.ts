/**
 * What POST /app/api/assess answers (src/server/timelineView.ts builds it, main.ts draws it): the exposure
 * timeline of one patient, every figure computed by the project's engine on the server from the records the
 * app read with its own token. Types only, and nothing of the browser or of Node: the page and the server both
 * import this file.
 */

/** One day with a counted dose, as the engine's timeline has it (days without a counted dose are not listed). */
export interface TimelineDayView {
  date: string;
  /** Prednisolone-equivalent mg counted on the day. */
  mg: number;
  /** Prednisolone-equivalent mg through the day. */
  cumulativeMg: number;
}

/** An IV methylprednisolone (or other) pulse: a day of a record averaging ≥ 250 mg prednisolone-eq. a day IV. */
export interface PulseView {
  date: string;
  /** Prednisolone-equivalent mg that record gave on the day. */
  mg: number;
  source: string;
}

export type RecordStatus = 'counted' | 'excluded' | 'unknown';

export interface RecordIssueView {
  code: string;
  severity: 'error' | 'warning' | 'info';
  message: string;
}

/** One medication record, as prescribed and as counted. */
export interface RecordView {
  /** "MedicationStatement/123" */
  source: string;
  resourceType: string;
  /** The glucocorticoid the engine identified ("prednisolone"), or "unidentified". */
  drug: string;
  /** Drug and dose as prescribed (src/cdsHooks/doseAsWritten.ts, the card's words). */
  asWritten: string;
  route: string;
  /** The record's own dates (start, end), as far as they are written; null when not written. */
  recorded: { start: string | null; end: string | null };
  /** The first and last day with a counted dose; null when none was counted. */
  counted: { from: string; to: string; days: number } | null;
  /** Prednisolone-equivalent mg counted through the as-of day; null when it could not be computed. */
  mg: number | null;
  status: RecordStatus;
  /** The engine's own word: counted, excluded, duplicate, unquantified, or unidentified (no contribution). */
  engineStatus: 'counted' | 'excluded' | 'duplicate' | 'unquantified' | 'unidentified';
  /** Readable arithmetic, e.g. "prednisolone oral: 60 mg/d × 28 d = 1680 mg". */
  derivation: string;
  countedVia?: string;
  issues: RecordIssueView[];
}

/** Days on which a record may have given a dose that could not be quantified: drawn hatched, never as zero. */
export interface UnknownSpanView {
  source: string;
  from: string;
  to: string;
  /** True when the record was counted in part (some of its doses are known). */
  partial: boolean;
  /** The record's end is not written (the span is drawn to its last known day). */
  openEnd: boolean;
  reason: string;
}

export interface FindingView {
  joint: string;
  side: 'left' | 'right' | null;
  /** The date of the read. */
  date: string;
  /** Extent of the lesion (other than the Steinberg grade), e.g. "over 2/3 of the weight-bearing area". */
  extent: string[];
  /** "Steinberg severe (over 30%)", when graded so. */
  steinberg: string | null;
  collapse: boolean;
  highCollapseRisk: boolean;
  reference: string;
}

/** A CDS card's summary and indicator, literally as the patient-view card has them. */
export interface CardLine {
  summary: string;
  indicator: 'info' | 'warning' | 'critical';
}

export interface TimelineView {
  patientId: string;
  asOf: string;
  /** Whether the patient is in a screening cohort (a myositis Condition): only then is there a card. */
  inCohort: boolean;
  thresholdMg: number;
  cumulative: {
    /** Prednisolone-equivalent mg through the as-of day; null when nothing could be quantified. */
    mg: number | null;
    /** Some records could not be quantified: the true total may be higher. */
    isLowerBound: boolean;
    /** "16,815 mg", "at least 5,400 mg", "unknown": the card's words. */
    text: string;
  };
  currentDailyMg: number | null;
  firstExposure: string | null;
  peakDaily: { mg: number; on: string } | null;
  /** The first day on which the cumulative dose reached the threshold. */
  crossedOn: string | null;
  projection: {
    /** The day the threshold is reached if the recorded schedule is followed; null when crossed or never. */
    onSchedule: string | null;
    /** The day it is reached at today's daily dose; null when crossed, no or unknown current dose. */
    atCurrentDose: string | null;
    /** One sentence. */
    text: string;
  };
  /** The engine's timeline (computeExposure with timeline: true): days with a counted dose, in order. */
  timeline: TimelineDayView[];
  pulses: PulseView[];
  records: RecordView[];
  unknownSpans: UnknownSpanView[];
  wbMri: {
    studies: Array<{ date: string; reference: string }>;
    /** The 3–6 month follow-up window after the baseline WB-MRI (due from, overdue from). */
    followUp: { after: string; from: string; to: string } | null;
    openOrders: Array<{ date: string; reference: string; status: string }>;
  };
  /** Each affected joint and side at its latest read, most severe first. */
  findings: FindingView[];
  /** The latest WB-MRI that reported any site. */
  findingsLatestRead: string | null;
  /** The screening decision's card (the patient-view card's summary); null when there is none. */
  status: CardLine | null;
  /** The findings card, when osteonecrosis is known. */
  findingsStatus: CardLine | null;
  /** The screening decision's kind (src/screening/rules.ts), null outside the cohort. */
  decision: string | null;
  /** Data-quality issues of every record, including those with no contribution. */
  issues: Array<RecordIssueView & { source: string }>;
}

/** The request the page sends. */
export interface AssessRequest {
  patientId: string;
  asOf?: string;
  resources: { resourceType: 'Bundle'; type?: string; entry?: Array<{ fullUrl?: string; resource: unknown }> };
}
