/**
 * The codes of the surveillance worklist's FHIR Tasks (Task.code), one per rule. Due and overdue follow-ups are
 * one Task: Task.businessStatus says which.
 */
import type { Concept } from './concept.ts';
import { WORKLIST_RULE_SYSTEM } from './systems.ts';

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

export const worklistRuleCoding = (code: WorklistRuleCode) => {
  const c = WORKLIST_RULE_CONCEPTS.find((x) => x.code === code)!;
  return { system: WORKLIST_RULE_SYSTEM, code: c.code, display: c.display };
};
