/**
 * Every FHIR conformance resource OsteoWatch publishes in profiles/: the profiles of what it writes or
 * suggests, the grading CodeSystem, the card override-reason and topic CodeSystems, and the ValueSets for
 * the cohort, the glucocorticoids and the sites.
 */
import type { CodeSystem, Resource, StructureDefinition, ValueSet } from '@medplum/fhirtypes';
import { INGREDIENTS } from '../exposure/ingredients.ts';
import { MYOSITIS_COHORT } from '../screening/cohort.ts';
import { OVERRIDE_REASON_CONCEPTS, TOPIC_CONCEPTS } from '../terminology/cardCodes.ts';
import { JOINT_CODES, JOINTS, LATERAL_JOINT_CODES, SIDE_CODES, WB_MRI_LOINC } from '../terminology/codes.ts';
import type { Concept } from '../terminology/concept.ts';
import { GRADING_CONCEPTS } from '../terminology/grading.ts';
import {
  CANONICAL,
  FINDING_PROFILE,
  FINDINGS_REPORT_PROFILE,
  GRADING_SYSTEM,
  ICD10CM,
  LATERALITY_QUALIFIER,
  LOINC,
  OVERRIDE_SYSTEM,
  RXNORM,
  SNOMED,
  SURVEILLANCE_TAG_SYSTEM,
  TOPIC_SYSTEM,
  WORKLIST_RULE_SYSTEM,
} from '../terminology/systems.ts';
import { SURVEILLANCE_TAG_CONCEPTS, WORKLIST_RULE_CONCEPTS } from '../terminology/worklistCodes.ts';
import { deriveProfile } from './derive.ts';
import { wbMriServiceRequestProfile } from './wbMriServiceRequest.ts';

export const FINDING_PROFILE_URL = FINDING_PROFILE;
export const REPORT_PROFILE_URL = FINDINGS_REPORT_PROFILE;

/** How Observation.bodySite carries the side, from the tables the write-back uses (src/imaging/toFhir.ts). */
function bodySiteComment(): string {
  const lateral = Object.entries(LATERAL_JOINT_CODES)
    .flatMap(([joint, sides]) => Object.entries(sides).map(([side, c]) => `${side} ${joint} ${c.code}`))
    .join(', ');
  const joints = Object.entries(JOINT_CODES)
    .map(([joint, c]) => `${joint} ${c.code}`)
    .join(', ');
  return (
    `One SNOMED CT concept: a precoordinated left/right joint where one exists (${lateral}); otherwise the joint ` +
    `(${joints}) with the laterality qualifier extension ${LATERALITY_QUALIFIER} on bodySite (left ` +
    `${SIDE_CODES.left.code} / right ${SIDE_CODES.right.code}). Never the side as a second coding: the codings ` +
    'of one CodeableConcept are alternative codes for the same concept.'
  );
}

export function findingProfile(): StructureDefinition {
  return deriveProfile({
    id: 'osteowatch-osteonecrosis-finding',
    type: 'Observation',
    name: 'OsteoWatchOsteonecrosisFinding',
    title: 'OsteoWatch osteonecrosis finding (one joint, one side)',
    description:
      'Osteonecrosis present or absent at one joint and side on a STIR whole-body MRI: code SNOMED CT 397758007, value 52101004 present / 2667000 absent, bodySite = the joint on its side (a precoordinated SNOMED CT left/right concept, or the joint with the mCODE laterality qualifier extension), components for the extent class, necrotic share, Steinberg grade, condyles and collapse.',
    constraints: {
      'Observation.identifier': { min: 1, short: 'Idempotency key: study UID, joint and side' },
      'Observation.code': { patternCodeableConcept: { coding: [{ system: SNOMED, code: '397758007' }] } },
      'Observation.subject': {
        min: 1,
        type: [{ code: 'Reference', targetProfile: ['http://hl7.org/fhir/StructureDefinition/Patient'] }],
      },
      'Observation.effective[x]': { min: 1, short: 'Study date', type: [{ code: 'dateTime' }] },
      'Observation.value[x]': {
        min: 1,
        short: 'Present (52101004) or absent (2667000)',
        type: [{ code: 'CodeableConcept' }],
      },
      'Observation.bodySite': { min: 1, short: 'The joint on its side, as one concept', comment: bodySiteComment() },
      'Observation.derivedFrom': { min: 1, short: 'The WB-MRI ImagingStudy (by study instance UID)' },
    },
  });
}

export function reportProfile(): StructureDefinition {
  return deriveProfile({
    id: 'osteowatch-wbmri-findings-report',
    type: 'DiagnosticReport',
    name: 'OsteoWatchWbMriFindingsReport',
    title: 'OsteoWatch STIR whole-body MRI osteonecrosis findings report',
    description: 'Groups the per-joint osteonecrosis findings of one STIR whole-body MRI, with a conclusion.',
    constraints: {
      'DiagnosticReport.identifier': { min: 1 },
      'DiagnosticReport.code': {
        patternCodeableConcept: { coding: [{ system: LOINC, code: WB_MRI_LOINC }] },
      },
      'DiagnosticReport.subject': {
        min: 1,
        type: [{ code: 'Reference', targetProfile: ['http://hl7.org/fhir/StructureDefinition/Patient'] }],
      },
      'DiagnosticReport.effective[x]': { min: 1, type: [{ code: 'dateTime' }] },
      'DiagnosticReport.result': { min: 1 },
      'DiagnosticReport.conclusion': { min: 1 },
    },
  });
}

/** One of OsteoWatch's own code systems, complete, every concept with a definition. */
function codeSystem(
  id: string,
  url: string,
  name: string,
  title: string,
  description: string,
  concepts: Concept[],
): CodeSystem {
  return {
    resourceType: 'CodeSystem',
    id,
    url,
    version: '0.1.0',
    name,
    title,
    status: 'draft',
    publisher: 'OsteoWatch',
    description,
    caseSensitive: true,
    content: 'complete',
    count: concepts.length,
    concept: concepts.map((c) => ({ code: c.code, display: c.display, definition: c.definition })),
  };
}

export function gradingCodeSystem(): CodeSystem {
  return codeSystem(
    'osteonecrosis-grading',
    GRADING_SYSTEM,
    'OsteoWatchOsteonecrosisGrading',
    'Osteonecrosis grading concepts without a standard code',
    'Hip share of the weight-bearing area, knee condyles and articular surface (Huang et al. 2017), femoral-head Steinberg extent, and articular collapse.',
    GRADING_CONCEPTS,
  );
}

function valueSet(
  id: string,
  title: string,
  description: string,
  include: NonNullable<ValueSet['compose']>['include'],
): ValueSet {
  return {
    resourceType: 'ValueSet',
    id,
    url: `${CANONICAL}/ValueSet/${id}`,
    version: '0.1.0',
    name: id.replace(/(^|-)(\w)/g, (_m, _d, c: string) => c.toUpperCase()),
    title,
    status: 'draft',
    publisher: 'OsteoWatch',
    description,
    compose: { include },
  };
}

export function valueSets(): ValueSet[] {
  return [
    valueSet(
      'myositis-cohort',
      'Idiopathic inflammatory myopathy (screening cohort)',
      'Conditions that put a patient in the default screening cohort (ICD-10-CM and SNOMED CT). ICD-10-CM codes are matched by prefix (M33.*, G72.41, G72.49).',
      [
        { system: SNOMED, concept: MYOSITIS_COHORT.snomed.map((code) => ({ code })) },
        {
          system: ICD10CM,
          filter: MYOSITIS_COHORT.icd10Prefixes.map((p) => ({
            property: 'code',
            op: 'regex',
            value: `${p.replace('.', '\\.')}.*`,
          })),
        },
      ],
    ),
    valueSet(
      'glucocorticoid-ingredients',
      'Systemic glucocorticoid ingredients',
      'RxNorm ingredients counted (or, for budesonide and others without an equivalence, reported) by the exposure engine.',
      [
        {
          system: RXNORM,
          concept: INGREDIENTS.flatMap((i) => i.rxnormIn.map((code) => ({ code }))),
        },
      ],
    ),
    valueSet(
      'osteonecrosis-sites',
      'Osteonecrosis screening sites',
      'Joints reported per side on the STIR whole-body MRI (Huang et al., Br J Radiol 2017: hip > knee > ankle > shoulder, calcaneus).',
      [{ system: SNOMED, concept: Object.entries(JOINTS).map(([code, name]) => ({ code, display: name })) }],
    ),
  ];
}

/** The override reasons offered on cards and the card source topic (src/cdsHooks/codes.ts). */
export function cardCodeSystems(): CodeSystem[] {
  return [
    codeSystem(
      'override-reason',
      OVERRIDE_SYSTEM,
      'OsteoWatchOverrideReason',
      'Reasons for not following a WB-MRI screening card',
      "Reasons for not following a WB-MRI screening card, used on OsteoWatch's CDS Hooks cards.",
      OVERRIDE_REASON_CONCEPTS,
    ),
    codeSystem(
      'cds-topic',
      TOPIC_SYSTEM,
      'OsteoWatchCdsTopic',
      'Topics of OsteoWatch guidance',
      "Topics of OsteoWatch guidance, used on OsteoWatch's CDS Hooks cards.",
      TOPIC_CONCEPTS,
    ),
  ];
}

/** The rules of the surveillance worklist's Tasks (Task.code; src/surveillance/tasks.ts). */
export function worklistRuleCodeSystem(): CodeSystem {
  return codeSystem(
    'worklist-rule',
    WORKLIST_RULE_SYSTEM,
    'OsteoWatchWorklistRule',
    'Why a surveillance worklist Task was raised',
    'The screening rule behind a cohort surveillance worklist entry and its FHIR Task: WB-MRI screening due, follow-up WB-MRI due, osteonecrosis found, glucocorticoid exposure unknown (medication records to review).',
    WORKLIST_RULE_CONCEPTS,
  );
}

/** The tags surveillance puts on what it changes in the EHR (meta.tag; src/surveillance/tasks.ts). */
export function surveillanceTagCodeSystem(): CodeSystem {
  return codeSystem(
    'surveillance-tag',
    SURVEILLANCE_TAG_SYSTEM,
    'OsteoWatchSurveillanceTag',
    'What OsteoWatch surveillance did to a resource',
    "Tags (meta.tag) OsteoWatch's cohort surveillance puts on the resources it changes, so that its own doing can be told from a clinician's: a draft WB-MRI order revoked because its Task's reason had gone.",
    SURVEILLANCE_TAG_CONCEPTS,
  );
}

export function conformanceResources(): Resource[] {
  return [
    wbMriServiceRequestProfile(),
    findingProfile(),
    reportProfile(),
    gradingCodeSystem(),
    ...cardCodeSystems(),
    worklistRuleCodeSystem(),
    surveillanceTagCodeSystem(),
    ...valueSets(),
  ];
}

export const fileNameOf = (r: Resource): string => `${r.resourceType}-${r.id}.json`;
