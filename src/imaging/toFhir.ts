/**
 * A findings document → the FHIR resources written back (pure): one Observation per joint and side, a
 * DiagnosticReport with a conclusion, a Provenance naming the reader. Identifiers are deterministic per
 * (study, joint, side), so that writing the same study again updates instead of duplicating.
 *
 * The side is part of the body site, never a second coding beside the joint (the codings of one CodeableConcept
 * each stand for the whole concept, https://hl7.org/fhir/R4/datatypes.html#CodeableConcept): a precoordinated
 * SNOMED CT left/right concept where one exists (LATERAL_JOINT_CODES), otherwise the joint with the mCODE
 * laterality qualifier extension on bodySite
 * (https://hl7.org/fhir/us/mcode/StructureDefinition-mcode-laterality-qualifier.html).
 */
import { createHash } from 'node:crypto';
import type {
  CodeableConcept,
  DiagnosticReport,
  ImagingStudy,
  Observation,
  ObservationComponent,
  Provenance,
  Reference,
} from '@medplum/fhirtypes';
import { plural } from '../exposure/format.ts';
import {
  ABSENT,
  JOINT_CODES,
  LATERAL_JOINT_CODES,
  OSTEONECROSIS,
  PRESENT,
  RADIOLOGY_CATEGORY,
  SIDE_CODES,
  WB_MRI,
} from '../terminology/codes.ts';
import { display, HIP_SHARE, KNEE_SURFACE, steinberg } from '../terminology/grading.ts';
import {
  FINDING_PROFILE,
  FINDINGS_REPORT_PROFILE,
  GRADING_SYSTEM,
  LATERALITY_QUALIFIER,
  SNOMED,
  UCUM,
} from '../terminology/systems.ts';
import type { FindingsDocument, JointName, Site } from './findingsDocument.ts';

export const FINDING_ID_SYSTEM = 'urn:osteowatch:osteonecrosis-finding';
export const REPORT_ID_SYSTEM = 'urn:osteowatch:wbmri-findings-report';

const JOINT: Record<JointName, { code: string; display: string }> = JOINT_CODES;

/** One joint on one side, as one concept (see above). */
export function bodySite(s: Pick<Site, 'joint' | 'side'>): CodeableConcept {
  const text = `${s.side} ${s.joint}`;
  const lateral = LATERAL_JOINT_CODES[s.joint]?.[s.side];
  if (lateral) return { coding: [{ system: SNOMED, ...lateral }], text };
  return {
    extension: [
      { url: LATERALITY_QUALIFIER, valueCodeableConcept: { coding: [{ system: SNOMED, ...SIDE_CODES[s.side] }] } },
    ],
    coding: [{ system: SNOMED, ...JOINT[s.joint] }],
    text,
  };
}

export interface WriteBackResources {
  observations: Observation[];
  report: DiagnosticReport;
  provenance: Provenance;
}

const grade = (component: string, value: string): ObservationComponent => ({
  code: { coding: [{ system: GRADING_SYSTEM, code: component, display: display(component) }] },
  valueCodeableConcept: { coding: [{ system: GRADING_SYSTEM, code: value, display: display(value) }] },
});

function components(s: Site): ObservationComponent[] {
  const out: ObservationComponent[] = [];
  if (s.hipWeightBearingShare) out.push(grade('hip-weight-bearing-share', HIP_SHARE[s.hipWeightBearingShare]!));
  if (s.necroticSharePercent !== undefined) {
    out.push({
      code: { coding: [{ system: GRADING_SYSTEM, code: 'necrotic-share', display: display('necrotic-share') }] },
      valueQuantity: { value: s.necroticSharePercent, unit: '%', system: UCUM, code: '%' },
    });
    if (s.joint === 'hip' && s.osteonecrosis) out.push(grade('steinberg-extent', steinberg(s.necroticSharePercent)));
  }
  for (const c of s.condyles ?? []) out.push(grade('knee-condyle', c));
  if (s.articularSurface) out.push(grade('knee-articular-surface', KNEE_SURFACE[s.articularSurface]!));
  if (s.collapse !== undefined)
    out.push({
      code: { coding: [{ system: GRADING_SYSTEM, code: 'articular-collapse', display: 'Articular collapse' }] },
      valueBoolean: s.collapse,
    });
  return out;
}

export function isHighCollapseRisk(s: Site): boolean {
  return (
    s.osteonecrosis &&
    (s.collapse === true ||
      s.hipWeightBearingShare === '>2/3' ||
      s.articularSurface === '>50%' ||
      (s.joint === 'hip' &&
        s.necroticSharePercent !== undefined &&
        steinberg(s.necroticSharePercent) === 'steinberg-severe'))
  );
}

/** "Multifocal osteonecrosis in 4 joints; high collapse risk: left hip" */
export function conclusion(doc: FindingsDocument): string {
  const present = doc.sites.filter((s) => s.osteonecrosis);
  if (!present.length) return `No osteonecrosis in the ${plural(doc.sites.length, 'site')} read.`;
  const label = (s: Site) => `${s.side} ${s.joint}`;
  const risk = present.filter(isHighCollapseRisk).map(label);
  const head =
    present.length === 1
      ? `Osteonecrosis of the ${label(present[0]!)}`
      : `Multifocal osteonecrosis in ${present.length} joints (${present.map(label).join(', ')})`;
  return `${head}${risk.length ? `; high collapse risk: ${risk.join(', ')}` : ''}.`;
}

/** A stable id for resources with no business identifier (the Provenance): same study → same id. */
export function stableId(prefix: string, ...parts: string[]): string {
  return `${prefix}-${createHash('sha256').update(parts.join('|')).digest('hex').slice(0, 40)}`;
}

export function toFhir(doc: FindingsDocument, recordedAt: string): WriteBackResources {
  const subject = { reference: doc.patient };
  const study: Reference<ImagingStudy> = {
    type: 'ImagingStudy',
    identifier: { system: 'urn:dicom:uid', value: `urn:oid:${doc.studyInstanceUid}` },
    display: `STIR whole-body MRI ${doc.studyDate}`,
  };
  const performer = doc.reader.reference
    ? [{ reference: doc.reader.reference, display: doc.reader.display }]
    : [{ display: doc.reader.display }];
  const observations: Observation[] = doc.sites.map((s) => ({
    resourceType: 'Observation',
    meta: { profile: [FINDING_PROFILE] },
    identifier: [{ system: FINDING_ID_SYSTEM, value: `${doc.studyInstanceUid}/${s.joint}/${s.side}` }],
    status: 'final',
    category: [
      {
        coding: [
          { system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'imaging', display: 'Imaging' },
        ],
      },
    ],
    code: {
      coding: [{ system: SNOMED, code: OSTEONECROSIS, display: 'Avascular necrosis of bone' }],
      text: 'Osteonecrosis',
    },
    subject,
    effectiveDateTime: doc.studyDate,
    issued: recordedAt,
    performer,
    valueCodeableConcept: s.osteonecrosis
      ? { coding: [{ system: SNOMED, code: PRESENT, display: 'Present' }], text: 'present' }
      : { coding: [{ system: SNOMED, code: ABSENT, display: 'Absent' }], text: 'absent' },
    bodySite: bodySite(s),
    method: { text: 'Coronal STIR whole-body MRI' },
    derivedFrom: [study],
    ...(components(s).length ? { component: components(s) } : {}),
  }));
  const report: DiagnosticReport = {
    resourceType: 'DiagnosticReport',
    meta: { profile: [FINDINGS_REPORT_PROFILE] },
    identifier: [{ system: REPORT_ID_SYSTEM, value: doc.studyInstanceUid }],
    status: 'final',
    category: [{ coding: [RADIOLOGY_CATEGORY] }],
    code: {
      coding: [WB_MRI],
      text: 'STIR whole-body MRI: osteonecrosis screening',
    },
    subject,
    effectiveDateTime: doc.studyDate,
    issued: recordedAt,
    performer,
    result: [],
    conclusion: conclusion(doc),
  };
  const provenance: Provenance = {
    resourceType: 'Provenance',
    id: stableId('osteowatch-imaging', doc.studyInstanceUid),
    target: [],
    recorded: recordedAt,
    activity: {
      coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-DataOperation', code: 'CREATE', display: 'create' }],
    },
    agent: [
      {
        type: {
          coding: [
            {
              system: 'http://terminology.hl7.org/CodeSystem/provenance-participant-type',
              code: 'author',
              display: 'Author',
            },
          ],
        },
        who: performer[0]!,
      },
      {
        type: {
          coding: [
            {
              system: 'http://terminology.hl7.org/CodeSystem/provenance-participant-type',
              code: 'assembler',
              display: 'Assembler',
            },
          ],
        },
        who: { display: 'OsteoWatch imaging write-back' },
      },
    ],
    entity: [{ role: 'source', what: study }],
  };
  return { observations, report, provenance };
}
