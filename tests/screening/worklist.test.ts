/**
 * The decision → worklist entry mapping: the dates and numbers the clinic team reads (due date, days overdue,
 * the dose in the summary) and what counts as the same piece of work from one run to the next.
 */
import { describe, expect, it } from 'vitest';
import type { Assessment } from '../../src/screening/assess.ts';
import type { Decision, FindingsDecision } from '../../src/screening/rules.ts';
import { changeOf, taskRuleOf, workFamilyOf, worklistItems, worklistKey } from '../../src/screening/worklist.ts';

const study = { date: '2025-12-01', reference: 'ImagingStudy/s1' };

/** The parts of an assessment the mapping reads. */
function assessed(decision: Decision, findings: FindingsDecision | null = null, asOf = '2026-06-30'): Assessment {
  return {
    patientId: 'p1',
    asOf,
    exposure: { cumulativeMg: 7507.5, cumulativeIsLowerBound: true, issues: [] },
    studies: [study],
    screening: { decision, findings },
  } as unknown as Assessment;
}

describe('worklist entries', () => {
  it('an overdue follow-up: due and overdue dates from the scan, days overdue counted to the as-of day', () => {
    const [e] = worklistItems(
      assessed({ kind: 'follow-up-overdue', lastStudy: study, dueFrom: '2026-03-01', overdueFrom: '2026-06-01' }),
    );
    expect(e).toMatchObject({
      rule: 'follow-up-overdue',
      dueDate: '2026-03-01',
      overdueFrom: '2026-06-01',
      daysOverdue: 29,
      cumulativeMg: 7507.5,
      lowerBound: true,
      lastStudy: '2025-12-01',
      suggestsOrder: true,
    });
    expect(
      worklistItems(
        assessed(
          { kind: 'follow-up-overdue', lastStudy: study, dueFrom: '2026-03-01', overdueFrom: '2026-06-01' },
          null,
          '2026-06-01',
        ),
      )[0]!.daysOverdue,
    ).toBe(0);
  });

  it('re-screening due: the dose since the scan exact to the milligram in the summary', () => {
    const [e] = worklistItems(
      assessed({ kind: 'rescreen-due', lastStudy: study, sinceMg: 3012.5, incrementMg: 3000, reachedOn: '2026-05-20' }),
    );
    expect(e!.rule).toBe('screening-due');
    expect(e!.dueDate).toBe('2026-05-20');
    expect(e!.summary).toContain('3,012.5 mg since the WB-MRI of 2025-12-01 (≥ 3,000 mg)');
  });

  it('nothing for a decision that asks for nothing; exposure unknown for review; findings listed without an order', () => {
    expect(worklistItems(assessed({ kind: 'below-threshold', projectedOn: null }))).toEqual([]);
    const site = {
      date: '2026-01-10',
      joint: 'hip',
      side: 'left' as const,
      present: true,
      extent: [],
      collapse: true,
      highCollapseRisk: false,
      reference: 'Observation/o1',
    };
    const items = worklistItems(
      assessed(
        { kind: 'exposure-unknown' },
        { affected: [site], collapsed: [site], highRisk: [], latestRead: '2026-01-10' },
      ),
    );
    // Exposure unknown: listed for review (no order, no due date), so that the patient is not left off the
    // worklist for want of a number; the findings beside it.
    expect(items).toHaveLength(2);
    expect(items[0]).toMatchObject({ rule: 'exposure-unknown', dueDate: null, suggestsOrder: false });
    expect(items[0]!.summary).toMatch(/^Steroid exposure unknown: no glucocorticoid record could be quantified/);
    expect(items[1]).toMatchObject({ rule: 'findings', dueDate: '2026-01-10', suggestsOrder: false });
    expect(items[1]!.summary).toBe('Osteonecrosis on WB-MRI (2026-01-10): hip left (collapsed)');

    // Its Task: a review of the medication records, one per patient (nothing says since when).
    expect(taskRuleOf(items[0]!.rule)).toBe('exposure-review');
    expect(workFamilyOf(items[0]!)).toBe(`${items[0]!.patientId}:exposure-review:none`);
  });

  it('a follow-up that went from due to overdue is the same work (still due), a new due date is new', () => {
    const due = worklistItems(
      assessed({ kind: 'follow-up-due', lastStudy: study, dueFrom: '2026-03-01', overdueFrom: '2026-06-01' }),
    )[0]!;
    const overdue = { ...due, rule: 'follow-up-overdue' as const };
    expect(changeOf(overdue, new Set([worklistKey(due)]))).toBe('still-due');
    expect(changeOf({ ...due, dueDate: '2026-09-01' }, new Set([worklistKey(due)]))).toBe('new');
  });
});
