/**
 * A deterministic synthetic cohort for the demo and the tests: myositis patients on realistic glucocorticoid
 * courses (about 1 mg/kg/day prednisolone tapering to maintenance, IV methylprednisolone pulses, switches of
 * product, tablets with strength, relapses), some recorded with data-quality problems, prior WB-MRI studies,
 * and patients outside the cohort (SLE, asthma, RA) who also take steroids.
 *
 * Dates are laid out relative to the as-of day, so that a demo started today shows current therapy; the same
 * seed and as-of day give byte-identical output.
 */
import type {
  CodeableConcept,
  Condition,
  DiagnosticReport,
  Dosage,
  ImagingStudy,
  MedicationAdministration,
  MedicationRequest,
  MedicationStatement,
  Patient,
  Resource,
} from '@medplum/fhirtypes';
import { dayFromIso, isoFromDay } from '../exposure/dates.ts';
import { MR_MODALITY, RADIOLOGY_CATEGORY, WB_MRI } from '../terminology/codes.ts';
import { type DiagnosisCode, MYOSITIS, OTHER_COHORTS } from '../terminology/diagnoses.ts';
import { ICD10CM, RXNORM, SNOMED, UCUM } from '../terminology/systems.ts';
import { Random } from './random.ts';

export interface CohortOptions {
  size: number;
  seed: number;
  asOf: string;
  /** Share of patients outside the myositis cohort. */
  otherShare?: number;
}

const FAMILY = [
  'Tanaka',
  'Garcia',
  'Müller',
  'Okafor',
  'Nguyen',
  'Smith',
  'Kowalski',
  'Rossi',
  'Haddad',
  'Silva',
  'Kim',
  'Johansson',
  'Dubois',
  'Patel',
  'Chen',
  'Novak',
  'Ivanova',
  'Murphy',
  'Cohen',
  'Andersen',
];
const GIVEN_F = [
  'Aiko',
  'Maria',
  'Anna',
  'Ngozi',
  'Lan',
  'Emily',
  'Zofia',
  'Giulia',
  'Layla',
  'Ana',
  'Min-ji',
  'Ingrid',
  'Claire',
  'Priya',
  'Mei',
  'Eva',
];
const GIVEN_M = [
  'Hiro',
  'Carlos',
  'Jonas',
  'Chidi',
  'Minh',
  'James',
  'Piotr',
  'Marco',
  'Omar',
  'João',
  'Joon',
  'Erik',
  'Louis',
  'Arjun',
  'Wei',
  'Tomas',
];

const ORAL: CodeableConcept = { coding: [{ system: SNOMED, code: '26643006', display: 'Oral route' }] };
const IV: CodeableConcept = { coding: [{ system: SNOMED, code: '47625008', display: 'Intravenous route' }] };
const INHALED: CodeableConcept = {
  coding: [{ system: SNOMED, code: '447694001', display: 'Respiratory tract route' }],
};

interface Product {
  concept: CodeableConcept;
  /** mg per tablet, when the dose is given in tablets. */
  tablet?: number;
  /** Prednisolone-equivalent → product mg. */
  scale: number;
}

const rx = (code: string, display: string): CodeableConcept => ({
  coding: [{ system: RXNORM, code, display }],
  text: display,
});
const PRODUCTS: ReadonlyArray<readonly [Product, number]> = [
  [{ concept: rx('8638', 'prednisolone'), scale: 1 }, 35],
  [{ concept: rx('312617', 'predniSONE 5 MG Oral Tablet'), tablet: 5, scale: 1 }, 20],
  [{ concept: rx('312615', 'predniSONE 20 MG Oral Tablet'), tablet: 20, scale: 1 }, 10],
  [{ concept: rx('8640', 'prednisone'), scale: 1 }, 20],
  [{ concept: rx('259966', 'methylPREDNISolone 4 MG Oral Tablet'), tablet: 4, scale: 0.8 }, 15],
];
const MP_TABLET: Product = { concept: rx('259966', 'methylPREDNISolone 4 MG Oral Tablet'), tablet: 4, scale: 0.8 };
const MP_IV = rx('6902', 'methylprednisolone');

const mg = (value: number) => ({ value, unit: 'mg', system: UCUM, code: 'mg' });
const tablets = (value: number) => ({ value, unit: 'tablet', system: UCUM, code: '{tbl}' });
const days = (value: number) => ({ value, unit: 'days', system: UCUM, code: 'd' });

interface Step {
  /** Prednisolone-equivalent mg/day. */
  dose: number;
  /** Length in days; undefined for the open last step. */
  length?: number;
}

/** Starting dose ~1 mg/kg/day (40–80 mg), −10 mg every 2 weeks to 20 mg, −2.5 mg every 4 weeks to maintenance. */
function taper(rnd: Random, weightKg: number, maintenance: number): Step[] {
  const start = Math.min(80, Math.max(40, Math.round(weightKg / 5) * 5));
  const steps: Step[] = [{ dose: start, length: rnd.pick([28, 35, 42]) }];
  let d = start - 10;
  while (d > 20) {
    steps.push({ dose: d, length: 14 });
    d -= 10;
  }
  d = 20;
  while (d > maintenance) {
    steps.push({ dose: d, length: 28 });
    d -= 2.5;
  }
  steps.push({ dose: maintenance });
  return steps;
}

function doseFor(product: Product, predEq: number): { doseAndRate: Dosage['doseAndRate'] } {
  const amount = predEq * product.scale;
  if (product.tablet) {
    const n = amount / product.tablet;
    if (Math.abs(n * 2 - Math.round(n * 2)) < 1e-9) return { doseAndRate: [{ doseQuantity: tablets(n) }] };
  }
  return { doseAndRate: [{ doseQuantity: mg(+amount.toFixed(3)) }] };
}

const dailyTiming = (bounds: { start?: string; end?: string; duration?: number }): Dosage['timing'] => ({
  repeat: {
    frequency: 1,
    period: 1,
    periodUnit: 'd',
    ...(bounds.start || bounds.end
      ? {
          boundsPeriod: {
            ...(bounds.start ? { start: bounds.start } : {}),
            ...(bounds.end ? { end: bounds.end } : {}),
          },
        }
      : {}),
    ...(bounds.duration ? { boundsDuration: days(bounds.duration) } : {}),
  },
});

class PatientBuilder {
  readonly resources: Resource[] = [];
  private n = 0;
  readonly ref: { reference: string; display: string };
  readonly id: string;
  readonly rnd: Random;
  readonly asOf: number;
  constructor(id: string, rnd: Random, asOf: number, display: string) {
    this.id = id;
    this.rnd = rnd;
    this.asOf = asOf;
    this.ref = { reference: `Patient/${id}`, display };
  }
  nextId(kind: string): string {
    this.n += 1;
    return `${this.id}-${kind}-${this.n}`;
  }
  add<T extends Resource>(r: T): T {
    this.resources.push(r);
    return r;
  }
}

function patientResource(id: string, rnd: Random, asOf: number): { patient: Patient; weightKg: number } {
  const female = rnd.chance(0.65);
  const age = rnd.int(19, 78);
  const birth = asOf - age * 365 - rnd.int(0, 364);
  const patient: Patient = {
    resourceType: 'Patient',
    id,
    identifier: [{ system: 'urn:osteowatch:demo:mrn', value: `MRN-${id.slice(3)}` }],
    active: true,
    name: [{ use: 'official', family: rnd.pick(FAMILY), given: [rnd.pick(female ? GIVEN_F : GIVEN_M)] }],
    gender: female ? 'female' : 'male',
    birthDate: isoFromDay(birth),
  };
  return { patient, weightKg: female ? rnd.int(45, 85) : rnd.int(58, 100) };
}

function condition(b: PatientBuilder, dx: DiagnosisCode, onset: number): Condition {
  return b.add<Condition>({
    resourceType: 'Condition',
    id: b.nextId('cond'),
    clinicalStatus: {
      coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-clinical', code: 'active' }],
    },
    verificationStatus: {
      coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-ver-status', code: 'confirmed' }],
    },
    category: [
      { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-category', code: 'problem-list-item' }] },
    ],
    code: {
      coding: [
        { system: SNOMED, code: dx.snomed, display: dx.display },
        { system: ICD10CM, code: dx.icd10, display: dx.icdDisplay },
      ],
      text: dx.display,
    },
    subject: b.ref,
    onsetDateTime: isoFromDay(onset),
    recordedDate: isoFromDay(onset),
  });
}

/** IV methylprednisolone pulse: the order (count 3) and the three administrations that fulfil it. */
function pulse(b: PatientBuilder, start: number, doseMg: number): number {
  const req = b.add<MedicationRequest>({
    resourceType: 'MedicationRequest',
    id: b.nextId('mr'),
    status: 'completed',
    intent: 'order',
    category: [
      { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/medicationrequest-category', code: 'inpatient' }] },
    ],
    medicationCodeableConcept: MP_IV,
    subject: b.ref,
    authoredOn: isoFromDay(start),
    dosageInstruction: [
      {
        text: `${doseMg} mg IV once daily for 3 days`,
        route: IV,
        timing: { repeat: { count: 3, frequency: 1, period: 1, periodUnit: 'd' } },
        doseAndRate: [{ doseQuantity: mg(doseMg) }],
      },
    ],
  });
  for (let k = 0; k < 3 && start + k <= b.asOf; k++) {
    b.add<MedicationAdministration>({
      resourceType: 'MedicationAdministration',
      id: b.nextId('ma'),
      status: 'completed',
      medicationCodeableConcept: MP_IV,
      subject: b.ref,
      effectiveDateTime: `${isoFromDay(start + k)}T10:00:00+00:00`,
      request: { reference: `MedicationRequest/${req.id}` },
      dosage: { route: IV, dose: mg(doseMg) },
    });
  }
  return start + 3;
}

type Style = 'taper-statement' | 'step-statements' | 'requests-and-statements';

/** Records a course of steps from `start`; returns the day after the last recorded step (or asOf + 1). */
function recordCourse(
  b: PatientBuilder,
  steps: Step[],
  start: number,
  style: Style,
  products: (i: number) => Product,
  ongoing: boolean,
  stopAfterMaintenanceDays: number,
): number {
  if (style === 'taper-statement') {
    const product = products(0);
    const dosage: Dosage[] = steps.map((s, i) => ({
      sequence: i + 1,
      text: `${s.dose} mg daily${s.length ? ` for ${s.length} days` : ''}`,
      route: ORAL,
      timing: dailyTiming(s.length ? { duration: s.length } : {}),
      ...doseFor(product, s.dose),
    }));
    const totalFixed = steps.reduce((sum, s) => sum + (s.length ?? 0), 0);
    const end = ongoing ? undefined : start + totalFixed + stopAfterMaintenanceDays - 1;
    b.add<MedicationStatement>({
      resourceType: 'MedicationStatement',
      id: b.nextId('ms'),
      status: ongoing ? 'active' : 'completed',
      medicationCodeableConcept: product.concept,
      subject: b.ref,
      effectivePeriod: { start: isoFromDay(start), ...(end !== undefined ? { end: isoFromDay(end) } : {}) },
      dateAsserted: isoFromDay(Math.min(b.asOf, start + 1)),
      dosage,
    });
    return end !== undefined ? end + 1 : b.asOf + 1;
  }
  let day = start;
  for (let i = 0; i < steps.length; i++) {
    if (day > b.asOf) break;
    const s = steps[i]!;
    const product = products(i);
    const isLast = i === steps.length - 1;
    const len = s.length ?? (ongoing ? undefined : stopAfterMaintenanceDays);
    const end = len !== undefined ? day + len - 1 : undefined;
    const status = end !== undefined && end < b.asOf ? 'completed' : 'active';
    const dose = doseFor(product, s.dose);
    let basedOn: MedicationStatement['basedOn'];
    if (style === 'requests-and-statements') {
      const req = b.add<MedicationRequest>({
        resourceType: 'MedicationRequest',
        id: b.nextId('mr'),
        identifier: [{ system: 'urn:osteowatch:demo:order', value: `${b.id}-${i + 1}` }],
        status: status === 'completed' ? 'completed' : 'active',
        intent: 'order',
        medicationCodeableConcept: product.concept,
        subject: b.ref,
        authoredOn: isoFromDay(day),
        dosageInstruction: [
          {
            text: `${s.dose} mg daily`,
            route: ORAL,
            timing: dailyTiming({ start: isoFromDay(day), ...(end !== undefined ? { end: isoFromDay(end) } : {}) }),
            ...dose,
          },
        ],
      });
      basedOn = [{ reference: `MedicationRequest/${req.id}` }];
    }
    b.add<MedicationStatement>({
      resourceType: 'MedicationStatement',
      id: b.nextId('ms'),
      status,
      ...(basedOn ? { basedOn } : {}),
      medicationCodeableConcept: product.concept,
      subject: b.ref,
      effectivePeriod: { start: isoFromDay(day), ...(end !== undefined ? { end: isoFromDay(end) } : {}) },
      dosage: [{ text: `${s.dose} mg daily`, route: ORAL, timing: dailyTiming({}), ...dose }],
    });
    if (end === undefined || isLast) return end !== undefined ? end + 1 : b.asOf + 1;
    day = end + 1;
  }
  return day;
}

function dataQualityProblem(b: PatientBuilder, day: number): void {
  const kind = b.rnd.pick(['no-dose', 'status-unknown', 'prn-range', 'weight-based'] as const);
  const base = {
    resourceType: 'MedicationStatement' as const,
    id: b.nextId('ms'),
    subject: b.ref,
    medicationCodeableConcept: rx('8638', 'prednisolone'),
    effectivePeriod: { start: isoFromDay(day), end: isoFromDay(Math.min(b.asOf, day + 6)) },
  };
  if (kind === 'no-dose')
    b.add<MedicationStatement>({ ...base, status: 'completed', dosage: [{ text: 'prednisolone as directed' }] });
  else if (kind === 'status-unknown')
    b.add<MedicationStatement>({
      ...base,
      status: 'unknown',
      dosage: [{ route: ORAL, timing: dailyTiming({}), doseAndRate: [{ doseQuantity: mg(10) }] }],
    });
  else if (kind === 'prn-range')
    b.add<MedicationStatement>({
      ...base,
      status: 'completed',
      dosage: [
        {
          asNeededBoolean: true,
          route: ORAL,
          timing: dailyTiming({}),
          doseAndRate: [{ doseRange: { low: mg(5), high: mg(10) } }],
        },
      ],
    });
  else
    b.add<MedicationStatement>({
      ...base,
      status: 'completed',
      dosage: [
        {
          route: ORAL,
          timing: dailyTiming({}),
          doseAndRate: [{ doseQuantity: { value: 0.5, unit: 'mg/kg', system: UCUM, code: 'mg/kg' } }],
        },
      ],
    });
}

const MR = MR_MODALITY;
const WHOLE_BODY = { system: SNOMED, code: '38266002', display: 'Entire body as a whole' };
/**
 * The series of a STIR whole-body protocol. The R4 `modality` search parameter indexes ImagingStudy.series.modality
 * (https://hl7.org/fhir/R4/imagingstudy.html#search), so a study found by `modality=…|MR` needs its series; fixed
 * here, not drawn from the seeded generator, so that adding them changed no other generated value.
 */
const WB_SERIES = [
  { description: 'Coronal STIR whole body', numberOfInstances: 160 },
  { description: 'Sagittal STIR spine', numberOfInstances: 30 },
  { description: 'Coronal T1 whole body', numberOfInstances: 160 },
  { description: 'Axial STIR pelvis and thighs', numberOfInstances: 60 },
] as const;

function priorWbMri(b: PatientBuilder, day: number, finding: boolean): void {
  const uid = `2.25.${BigInt(`0x${Buffer.from(`${b.id}-${day}`).toString('hex').slice(0, 30)}`).toString()}`;
  const started = `${isoFromDay(day)}T09:30:00+00:00`;
  const study = b.add<ImagingStudy>({
    resourceType: 'ImagingStudy',
    id: b.nextId('is'),
    identifier: [{ system: 'urn:dicom:uid', value: `urn:oid:${uid}` }],
    status: 'available',
    modality: [MR],
    subject: b.ref,
    started,
    procedureCode: [{ coding: [WB_MRI], text: 'STIR whole-body MRI, no contrast' }],
    description: 'STIR whole-body MRI, no contrast',
    numberOfSeries: WB_SERIES.length,
    numberOfInstances: WB_SERIES.reduce((n, s) => n + s.numberOfInstances, 0),
    series: WB_SERIES.map((s, i) => ({
      uid: `${uid}.${i + 1}`,
      number: i + 1,
      modality: MR,
      description: s.description,
      numberOfInstances: s.numberOfInstances,
      bodySite: WHOLE_BODY,
      started,
    })),
  });
  b.add<DiagnosticReport>({
    resourceType: 'DiagnosticReport',
    id: b.nextId('dr'),
    status: 'final',
    category: [{ coding: [RADIOLOGY_CATEGORY] }],
    code: { coding: [WB_MRI], text: 'STIR whole-body MRI, no contrast' },
    subject: b.ref,
    effectiveDateTime: `${isoFromDay(day)}T09:30:00+00:00`,
    issued: `${isoFromDay(day + 1)}T12:00:00+00:00`,
    imagingStudy: [{ reference: `ImagingStudy/${study.id}` }],
    conclusion: finding
      ? 'Band-like STIR hyperintensity in the left femoral head consistent with osteonecrosis.'
      : 'No osteonecrosis.',
  });
}

function myositisPatient(b: PatientBuilder, weightKg: number): void {
  const rnd = b.rnd;
  const dx = rnd.weighted<DiagnosisCode>(MYOSITIS.map((d, i) => [d, [30, 20, 15, 15, 10, 10][i]!] as const));
  const recency = rnd.next();
  const onset = b.asOf - (recency < 0.15 ? rnd.int(7, 45) : recency < 0.4 ? rnd.int(46, 365) : rnd.int(366, 6 * 365));
  condition(b, dx, onset);
  let day = onset;
  if (rnd.chance(0.3)) day = pulse(b, day, rnd.pick([500, 1000]));
  const product = rnd.weighted(PRODUCTS);
  const switchAt = rnd.chance(0.15) ? 2 : Number.POSITIVE_INFINITY;
  const products = (i: number) => (i >= switchAt ? MP_TABLET : product);
  const style = rnd.weighted<Style>([
    ['taper-statement', 40],
    ['step-statements', 35],
    ['requests-and-statements', 25],
  ]);
  const maintenance = rnd.pick([5, 7.5, 10]);
  const ongoing = rnd.chance(0.75);
  const relapse = rnd.chance(0.2);
  const steps = taper(rnd, weightKg, maintenance);
  const stop = rnd.int(60, 400);
  const effectiveStyle =
    switchAt !== Number.POSITIVE_INFINITY && style === 'taper-statement' ? 'step-statements' : style;
  let next = recordCourse(b, steps, day, effectiveStyle, products, ongoing && !relapse, stop);
  if (relapse && next <= b.asOf) {
    if (rnd.chance(0.5)) next = pulse(b, next, 500);
    recordCourse(
      b,
      [{ dose: 40, length: 28 }, { dose: 30, length: 14 }, { dose: 20, length: 28 }, { dose: maintenance }],
      next,
      'step-statements',
      () => product,
      ongoing,
      stop,
    );
  }
  if (rnd.chance(0.12)) dataQualityProblem(b, onset + rnd.int(0, Math.max(0, b.asOf - onset)));
  if (b.asOf - onset > 180 && rnd.chance(0.25)) priorWbMri(b, onset + rnd.int(90, b.asOf - onset), rnd.chance(0.2));
}

function otherPatient(b: PatientBuilder): void {
  const rnd = b.rnd;
  const dx = rnd.pick(OTHER_COHORTS);
  const onset = b.asOf - rnd.int(60, 5 * 365);
  condition(b, dx, onset);
  if (dx.snomed === '195967001') {
    // Asthma: inhaled budesonide/formoterol (excluded) and short prednisone bursts.
    b.add<MedicationStatement>({
      resourceType: 'MedicationStatement',
      id: b.nextId('ms'),
      status: 'active',
      medicationCodeableConcept: rx(
        '745813',
        '120 ACTUAT budesonide 0.08 MG/ACTUAT / formoterol 0.0045 MG/ACTUAT Metered Dose Inhaler [Symbicort 80/4.5]',
      ),
      subject: b.ref,
      effectivePeriod: { start: isoFromDay(onset) },
      dosage: [
        {
          route: INHALED,
          timing: {
            code: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-GTSAbbreviation', code: 'BID' }] },
          },
          doseAndRate: [{ doseQuantity: { value: 2, unit: 'puff', system: UCUM, code: '{puff}' } }],
        },
      ],
    });
    for (let k = 0, n = rnd.int(1, 4); k < n; k++) {
      const s = onset + rnd.int(0, b.asOf - onset - 5);
      recordCourse(
        b,
        [{ dose: 40, length: 5 }],
        s,
        'step-statements',
        () => ({ concept: rx('312615', 'predniSONE 20 MG Oral Tablet'), tablet: 20, scale: 1 }),
        false,
        0,
      );
    }
  } else {
    const steps =
      dx.snomed === '55464009'
        ? [{ dose: 30, length: 28 }, { dose: 20, length: 28 }, { dose: 10, length: 56 }, { dose: 5 }]
        : [{ dose: 5 }];
    recordCourse(
      b,
      steps,
      onset,
      'step-statements',
      () => ({ concept: rx('8638', 'prednisolone'), scale: 1 }),
      true,
      0,
    );
  }
}

/**
 * The cohort one patient at a time: each step yields that patient's resources (the Patient first), so that a
 * cohort of any size is written out without being held in memory. The same options give the same sequence as
 * generateCohort.
 */
export function* generatePatients(options: CohortOptions): Generator<Resource[], void, undefined> {
  const rnd = new Random(options.seed);
  const asOf = dayFromIso(options.asOf);
  const otherShare = options.otherShare ?? 0.15;
  for (let i = 1; i <= options.size; i++) {
    const id = `ow-${String(i).padStart(4, '0')}`;
    const { patient, weightKg } = patientResource(id, rnd, asOf);
    const b = new PatientBuilder(id, rnd, asOf, `${patient.name![0]!.given![0]} ${patient.name![0]!.family}`);
    b.add(patient);
    if (rnd.chance(otherShare)) otherPatient(b);
    else myositisPatient(b, weightKg);
    yield b.resources;
  }
}

/** Generates the cohort as a flat list of resources with stable ids (generatePatients, collected). */
export function generateCohort(options: CohortOptions): Resource[] {
  const out: Resource[] = [];
  for (const resources of generatePatients(options)) for (const r of resources) out.push(r);
  return out;
}

/** The cohort as a FHIR transaction Bundle (PUT with the stable ids, so loading it twice changes nothing). */
export function cohortTransaction(resources: Resource[]): {
  resourceType: 'Bundle';
  type: 'transaction';
  entry: Array<{ fullUrl: string; resource: Resource; request: { method: 'PUT'; url: string } }>;
} {
  return {
    resourceType: 'Bundle',
    type: 'transaction',
    entry: resources.map((r) => ({
      fullUrl: `${r.resourceType}/${r.id}`,
      resource: r,
      request: { method: 'PUT', url: `${r.resourceType}/${r.id}` },
    })),
  };
}
