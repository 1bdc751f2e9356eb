/**
 * OsteoWatch's own codes on CDS Hooks cards: the override reasons a clinician can pick (CDS Hooks 2.0
 * §Overridden guidance, sent back in feedback) and the card source topic. Published as CodeSystems in
 * profiles/ (src/profiles/catalog.ts), so an EHR can load and display them.
 */
import type { Concept, DisplayedCoding } from './concept.ts';
import { OVERRIDE_SYSTEM, TOPIC_SYSTEM } from './systems.ts';

export type CardCoding = DisplayedCoding;

export const OVERRIDE_REASON_CONCEPTS: Concept[] = [
  {
    code: 'imaged-elsewhere',
    display: 'WB-MRI already done elsewhere',
    definition: 'A whole-body MRI was done at another site and is not (yet) in this record.',
  },
  { code: 'patient-declined', display: 'Patient declined', definition: 'The patient declined the WB-MRI.' },
  {
    code: 'mri-contraindicated',
    display: 'MRI contraindicated',
    definition: 'MRI is contraindicated for this patient (device, implant, claustrophobia, …).',
  },
  {
    code: 'not-indicated',
    display: 'Not clinically indicated now',
    definition: 'The clinician judges screening not indicated at this time.',
  },
  {
    code: 'later',
    display: 'Will order at a later visit',
    definition: 'The clinician will order the WB-MRI at a later visit.',
  },
  {
    code: 'already-managed',
    display: 'Already under orthopaedic care',
    definition: 'The osteonecrosis found on WB-MRI is already being managed (orthopaedics, follow-up imaging).',
  },
];

export const TOPIC_CONCEPTS: Concept[] = [
  {
    code: 'osteonecrosis-screening',
    display: 'Glucocorticoid-induced osteonecrosis screening',
    definition:
      'Cards about screening for glucocorticoid-induced osteonecrosis with STIR whole-body MRI: cumulative exposure, baseline and follow-up scans, findings.',
  },
];

const overrideReason = (code: string): CardCoding => {
  const c = OVERRIDE_REASON_CONCEPTS.find((x) => x.code === code)!;
  return { system: OVERRIDE_SYSTEM, code: c.code, display: c.display };
};

/** Offered on screening, follow-up and order cards. */
export const OVERRIDE_REASONS: CardCoding[] = [
  'imaged-elsewhere',
  'patient-declined',
  'mri-contraindicated',
  'not-indicated',
  'later',
].map(overrideReason);

/** Offered on the findings card. */
export const FINDINGS_OVERRIDE_REASONS: CardCoding[] = ['already-managed', 'not-indicated'].map(overrideReason);

export const SCREENING_TOPIC: CardCoding = {
  system: TOPIC_SYSTEM,
  code: TOPIC_CONCEPTS[0]!.code,
  display: TOPIC_CONCEPTS[0]!.display,
};
