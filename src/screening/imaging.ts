/**
 * Whole-body MRI history and osteonecrosis findings read from FHIR: studies (ImagingStudy, DiagnosticReport),
 * open orders (ServiceRequest) and per-site finding Observations.
 */
import type { CodeableConcept, DiagnosticReport, ImagingStudy, Observation, ServiceRequest } from '@medplum/fhirtypes';
import { isoFromDay, parseFhirDate } from '../exposure/dates.ts';
import {
  ABSENT,
  JOINTS,
  LATERAL_SITES,
  LATERALITY,
  OSTEONECROSIS,
  PRESENT,
  type Side,
  WB_MRI_LOINC,
} from '../terminology/codes.ts';
import {
  DCM,
  GRADING_SYSTEM,
  LATERALITY_QUALIFIER,
  LOINC,
  SNOMED,
  STRUCTURE_LATERALITY,
} from '../terminology/systems.ts';

export interface WbMriStudy {
  date: string;
  reference: string;
}

export interface WbMriOrder {
  date: string;
  reference: string;
  status: string;
}

export interface Finding {
  date: string;
  joint: string;
  side: 'left' | 'right' | null;
  present: boolean;
  /** e.g. ">2/3 of the weight-bearing area", "Steinberg severe", ">50% articular surface". */
  extent: string[];
  collapse: boolean;
  highCollapseRisk: boolean;
  reference: string;
}

const dateOf = (s: string | undefined): string | undefined => {
  const p = parseFhirDate(s);
  return p ? isoFromDay(p.day) : undefined;
};
const hasLoinc = (c: { coding?: Array<{ system?: string; code?: string }> } | undefined, code: string) =>
  !!c?.coding?.some((x) => x.system === LOINC && x.code === code);
const isMr = (m: { system?: string; code?: string } | undefined) =>
  m?.code === 'MR' && (m.system === undefined || m.system === DCM);
const wholeBodyText = (s: string | undefined) => !!s && /whole[\s-]?body|\bWB-?MRI\b/i.test(s);

export function wbMriStudies(studies: ImagingStudy[], reports: DiagnosticReport[]): WbMriStudy[] {
  const out = new Map<string, WbMriStudy>();
  for (const s of studies) {
    if (s.status === 'entered-in-error' || s.status === 'cancelled') continue;
    // MR at the study level or on a series: R4 allows either, and the `modality` search parameter only sees
    // series, so the prefetch asks for every study of the patient and the decision is made here.
    const mr = s.modality?.some(isMr) || s.series?.some((x) => isMr(x.modality));
    const wb =
      s.procedureCode?.some((p) => hasLoinc(p, WB_MRI_LOINC) || wholeBodyText(p.text)) || wholeBodyText(s.description);
    const date = dateOf(s.started);
    if (mr && wb && date && !out.has(date)) out.set(date, { date, reference: `ImagingStudy/${s.id}` });
  }
  for (const r of reports) {
    if (!['final', 'amended', 'corrected', 'appended', 'preliminary'].includes(r.status)) continue;
    if (!hasLoinc(r.code, WB_MRI_LOINC) && !wholeBodyText(r.code?.text)) continue;
    const date = dateOf(r.effectiveDateTime ?? r.effectivePeriod?.start ?? r.issued);
    if (date && !out.has(date)) out.set(date, { date, reference: `DiagnosticReport/${r.id}` });
  }
  return [...out.values()].sort((a, b) => (a.date < b.date ? -1 : a.date > b.date ? 1 : 0));
}

/** WB-MRI orders placed and not yet done (active or on-hold). */
export function openWbMriOrders(requests: ServiceRequest[]): WbMriOrder[] {
  return requests
    .filter(
      (r) =>
        (r.status === 'active' || r.status === 'on-hold') &&
        (hasLoinc(r.code, WB_MRI_LOINC) || wholeBodyText(r.code?.text)),
    )
    .map((r) => ({
      date: dateOf(r.authoredOn ?? r.occurrenceDateTime ?? r.occurrencePeriod?.start) ?? '0000-01-01',
      reference: `ServiceRequest/${r.id}`,
      status: r.status,
    }))
    .sort((a, b) => (a.date < b.date ? -1 : 1));
}

const EXTENT_TEXT: Record<string, { text: string; highRisk: boolean }> = {
  'hip-wb-lt-1/3': { text: 'under 1/3 of the weight-bearing area', highRisk: false },
  'hip-wb-1/3-2/3': { text: '1/3–2/3 of the weight-bearing area', highRisk: false },
  'hip-wb-gt-2/3': { text: 'over 2/3 of the weight-bearing area', highRisk: true },
  'steinberg-mild': { text: 'Steinberg mild (under 15%)', highRisk: false },
  'steinberg-moderate': { text: 'Steinberg moderate (15–30%)', highRisk: false },
  'steinberg-severe': { text: 'Steinberg severe (over 30%)', highRisk: true },
  'knee-surface-lt-25': { text: 'under 25% of the articular surface', highRisk: false },
  'knee-surface-25-50': { text: '25–50% of the articular surface', highRisk: false },
  'knee-surface-gt-50': { text: 'over 50% of the articular surface', highRisk: true },
};

/**
 * Joint and side of a finding's body site, in each shape it is written: a precoordinated SNOMED CT left/right
 * concept (LATERAL_SITES); the joint with a laterality qualifier extension on bodySite (mCODE's, which we write,
 * or the FHIR Extensions Pack's observation-structureLaterality); or, as earlier versions wrote it, the joint
 * and the side as two codings of bodySite.
 */
function siteOf(bodySite: CodeableConcept | undefined): { joint: string; side: Side | null } {
  const codes = (bodySite?.coding ?? []).filter((c) => c.system === SNOMED && c.code).map((c) => c.code!);
  const lateral = codes.map((c) => LATERAL_SITES[c]).find(Boolean);
  const qualified = (bodySite?.extension ?? [])
    .filter((e) => e.url === LATERALITY_QUALIFIER || e.url === STRUCTURE_LATERALITY)
    .flatMap((e) => e.valueCodeableConcept?.coding ?? [])
    .map((c) => (c.system === SNOMED && c.code ? LATERALITY[c.code] : undefined))
    .find(Boolean);
  return {
    joint: lateral?.joint ?? codes.map((c) => JOINTS[c]).find(Boolean) ?? bodySite?.text ?? 'site not coded',
    side: lateral?.side ?? qualified ?? codes.map((c) => LATERALITY[c]).find(Boolean) ?? null,
  };
}

/** Osteonecrosis finding Observations, one per joint and side. */
export function osteonecrosisFindings(observations: Observation[]): Finding[] {
  const out: Finding[] = [];
  for (const o of observations) {
    if (!['final', 'amended', 'corrected', 'preliminary'].includes(o.status)) continue;
    if (!o.code?.coding?.some((c) => c.system === SNOMED && c.code === OSTEONECROSIS)) continue;
    const date = dateOf(o.effectiveDateTime ?? o.effectivePeriod?.start ?? o.issued);
    if (!date) continue;
    const valueCode = o.valueCodeableConcept?.coding?.find((c) => c.system === SNOMED)?.code;
    const present = valueCode === PRESENT || o.valueBoolean === true;
    if (!present && valueCode !== ABSENT && o.valueBoolean !== false) continue;
    const { joint, side } = siteOf(o.bodySite);
    const extent: string[] = [];
    let collapse = false;
    let highRisk = false;
    for (const comp of o.component ?? []) {
      const compCode = comp.code?.coding?.find((c) => c.system === GRADING_SYSTEM)?.code;
      if (compCode === 'articular-collapse' && comp.valueBoolean) collapse = true;
      const val = comp.valueCodeableConcept?.coding?.find((c) => c.system === GRADING_SYSTEM)?.code;
      const e = val ? EXTENT_TEXT[val] : undefined;
      if (e) {
        extent.push(e.text);
        if (e.highRisk) highRisk = true;
      }
    }
    out.push({
      date,
      joint,
      side,
      present,
      extent,
      collapse,
      highCollapseRisk: present && (highRisk || collapse),
      reference: `Observation/${o.id}`,
    });
  }
  return out;
}
