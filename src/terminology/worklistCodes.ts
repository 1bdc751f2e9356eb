/**
 * The codes of the surveillance worklist's FHIR Tasks (Task.code), one per rule. Due and overdue follow-ups are
 * one Task: Task.businessStatus says which.
 */
import type { Concept } from './concept.ts';
import { SURVEILLANCE_TAG_SYSTEM, WORKLIST_RULE_SYSTEM } from './systems.ts';

/** A worklist Task's code (src/screening/worklist.ts taskRuleOf says which rule has which). */
export type WorklistRuleCode = 'screening' | 'follow-up' | 'findings' | 'exposure-review';

export const WORKLIST_RULE_CONCEPTS: Array<Concept & { code: WorklistRuleCode }> = [
  {
    code: 'screening',
    display: 'STIR whole-body MRI screening due',
    definition:
      'Cumulative glucocorticoid exposure reached the screening threshold (or the re-screening increment) and no WB-MRI has been done since.',
  },
  {
    code: 'follow-up',
    display: 'Follow-up STIR whole-body MRI due',
    definition:
      'Glucocorticoids continued after the baseline WB-MRI: the follow-up is due 3 months after it and overdue after 6.',
  },
  {
    code: 'findings',
    display: 'Osteonecrosis found on WB-MRI',
    definition: 'The latest WB-MRI reads show osteonecrosis: review management (collapse, high collapse risk).',
  },
  {
    code: 'exposure-review',
    display: 'Glucocorticoid exposure unknown: medication records to review',
    definition:
      'No glucocorticoid record of a cohort patient could be quantified (a prescription without a dose, an unknown unit …): the screening status cannot be decided until the records are completed.',
  },
];

/** The Coding of one of a code system's concepts, by its (typed) code. */
const codingIn =
  <C extends string>(system: string, concepts: ReadonlyArray<Concept & { code: C }>) =>
  (code: C) => {
    const c = concepts.find((x) => x.code === code)!;
    return { system, code: c.code, display: c.display };
  };

export const worklistRuleCoding = codingIn(WORKLIST_RULE_SYSTEM, WORKLIST_RULE_CONCEPTS);

/** What surveillance tags on the resources it changes (meta.tag): see SURVEILLANCE_TAG_SYSTEM. */
export type SurveillanceTagCode = 'revoked-as-resolved';

export const SURVEILLANCE_TAG_CONCEPTS: Array<Concept & { code: SurveillanceTagCode }> = [
  {
    code: 'revoked-as-resolved',
    display: 'Draft order revoked by OsteoWatch surveillance: its reason had gone',
    definition:
      'The draft WB-MRI order a worklist Task suggested was revoked by OsteoWatch when the Task was resolved (the WB-MRI was done). If the reason comes back (that WB-MRI entered in error), OsteoWatch makes it a draft again; a draft revoked by anyone else carries no such tag and is left revoked.',
  },
];

export const surveillanceTag = codingIn(SURVEILLANCE_TAG_SYSTEM, SURVEILLANCE_TAG_CONCEPTS);
