/**
 * Which worklist rules are urgent, in a module of its own that imports types only: the service (Task priority,
 * the worklist's order in surveillance/runStore.ts) and the dashboard (its note on that order) read the same list.
 */
import type { WorklistRule } from './worklistTypes.ts';

/** The rules whose work is urgent (an overdue follow-up, osteonecrosis found): first on the worklist. */
export const URGENT_RULES = ['follow-up-overdue', 'findings'] as const satisfies readonly WorklistRule[];

export const isUrgent = (rule: WorklistRule): boolean => (URGENT_RULES as readonly WorklistRule[]).includes(rule);
