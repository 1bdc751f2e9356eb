import type {
  Dosage,
  Medication,
  MedicationAdministration,
  MedicationRequest,
  MedicationStatement,
  Resource,
} from '@medplum/fhirtypes';
import { computeExposure, resolveExposureConfig } from '../../src/exposure/index.ts';

export const RX = 'http://www.nlm.nih.gov/research/umls/rxnorm';
export const UCUM = 'http://unitsofmeasure.org';
export const SCT = 'http://snomed.info/sct';

export const rx = (code: string, display?: string) => ({
  coding: [{ system: RX, code, ...(display ? { display } : {}) }],
  ...(display ? { text: display } : {}),
});
export const mg = (value: number) => ({ value, unit: 'mg', system: UCUM, code: 'mg' });
export const tabs = (value: number) => ({ value, unit: 'tablet', system: UCUM, code: '{tbl}' });
export const ORAL = { coding: [{ system: SCT, code: '26643006', display: 'Oral route' }] };
export const IV = { coding: [{ system: SCT, code: '47625008', display: 'Intravenous route' }] };

export const PRED = rx('8638', 'prednisolone');
export const PREDNISONE = rx('8640', 'prednisone');
export const MP = rx('6902', 'methylprednisolone');
export const DEX = rx('3264', 'dexamethasone');

let counter = 0;
const nextId = () => `r${++counter}`;

export interface DoseSpec {
  dose?: ReturnType<typeof mg>;
  freq?: number;
  period?: number;
  periodUnit?: 'h' | 'd' | 'wk' | 'mo';
  start?: string;
  end?: string;
  duration?: { value: number; unit: string };
  count?: number;
  sequence?: number;
  route?: Dosage['route'];
  code?: string;
}

/** Once a day. */
export const daily = { freq: 1, period: 1, periodUnit: 'd' as const };

export function dosage(s: DoseSpec): Dosage {
  const repeat: NonNullable<NonNullable<Dosage['timing']>['repeat']> = {};
  if (s.freq !== undefined) repeat.frequency = s.freq;
  if (s.period !== undefined) repeat.period = s.period;
  if (s.periodUnit !== undefined) repeat.periodUnit = s.periodUnit;
  if (s.start || s.end)
    repeat.boundsPeriod = { ...(s.start ? { start: s.start } : {}), ...(s.end ? { end: s.end } : {}) };
  if (s.duration)
    repeat.boundsDuration = { value: s.duration.value, unit: s.duration.unit, system: UCUM, code: s.duration.unit };
  if (s.count !== undefined) repeat.count = s.count;
  const d: Dosage = {
    ...(s.sequence !== undefined ? { sequence: s.sequence } : {}),
    route: s.route ?? ORAL,
    ...(s.dose ? { doseAndRate: [{ doseQuantity: s.dose }] } : {}),
  };
  if (Object.keys(repeat).length || s.code) {
    d.timing = {
      ...(Object.keys(repeat).length ? { repeat } : {}),
      ...(s.code
        ? { code: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-GTSAbbreviation', code: s.code }] } }
        : {}),
    };
  }
  return d;
}

export function statement(
  med: MedicationStatement['medicationCodeableConcept'],
  dosages: Dosage[],
  extra: Partial<MedicationStatement> = {},
): MedicationStatement {
  return {
    resourceType: 'MedicationStatement',
    id: nextId(),
    status: 'completed',
    subject: { reference: 'Patient/p1' },
    medicationCodeableConcept: med,
    dosage: dosages,
    ...extra,
  };
}

export function request(
  med: MedicationRequest['medicationCodeableConcept'],
  dosages: Dosage[],
  extra: Partial<MedicationRequest> = {},
): MedicationRequest {
  return {
    resourceType: 'MedicationRequest',
    id: nextId(),
    status: 'active',
    intent: 'order',
    subject: { reference: 'Patient/p1' },
    medicationCodeableConcept: med,
    dosageInstruction: dosages,
    ...extra,
  };
}

export function administration(
  med: MedicationAdministration['medicationCodeableConcept'],
  when: string,
  dose: ReturnType<typeof mg>,
  extra: Partial<MedicationAdministration> = {},
): MedicationAdministration {
  return {
    resourceType: 'MedicationAdministration',
    id: nextId(),
    status: 'completed',
    subject: { reference: 'Patient/p1' },
    medicationCodeableConcept: med,
    effectiveDateTime: when,
    dosage: { dose, route: IV },
    ...extra,
  };
}

export function medication(id: string, code: Medication['code'], extra: Partial<Medication> = {}): Medication {
  return { resourceType: 'Medication', id, code, ...extra };
}

export function exposure(resources: Resource[], asOf: string, overrides?: unknown) {
  return computeExposure({
    resources,
    asOf,
    patient: 'p1',
    ...(overrides ? { config: resolveExposureConfig(overrides) } : {}),
  });
}
