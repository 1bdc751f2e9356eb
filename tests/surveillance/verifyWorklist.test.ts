/**
 * `surveil verify` on a run audited before the digest, whose record holds the worklist itself: compared entry by
 * entry (not a false alarm because the record has no digest), answered as digests, and a change still found.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AuditStore, openAuditStore } from '../../src/audit/store.ts';
import { verifyRun } from '../../src/surveillance/runAudit.ts';
import { RunStore, type WorklistRow } from '../../src/surveillance/runStore.ts';

let store: AuditStore;
let runs: RunStore;
beforeAll(async () => {
  store = await openAuditStore({ memory: true });
  runs = new RunStore(store.db);
});
afterAll(() => store?.close());

const entry = (patientId: string, rule: WorklistRow['rule'], dueDate: string): WorklistRow => ({
  runId: 'legacy-run',
  patientId,
  rule,
  change: 'new',
  dueDate,
  overdueFrom: null,
  daysOverdue: null,
  cumulativeMg: 4200,
  lowerBound: false,
  lastStudy: null,
  summary: 'STIR WB-MRI screening due',
  taskRef: `Task/${patientId}`,
  taskError: null,
});

describe('verify, a run audited with its whole worklist', () => {
  it('matches entry by entry, and finds a change', async () => {
    await runs.createRun({
      runId: 'legacy-run',
      trigger: 'api',
      mode: 'crawl',
      fhirBase: 'http://ehr.example/fhir',
      asOf: '2026-06-30',
      rulesHash: 'x',
      now: new Date('2026-06-30T06:00:00Z'),
    });
    const entries = [entry('p2', 'screening-due', '2026-05-01'), entry('p1', 'screening-due', '2026-04-01')];
    await runs.insertEntries(entries);
    await runs.update('legacy-run', { status: 'succeeded' });
    // The record as runs wrote it before the digest: the worklist's slim entries, in any order.
    await store.audit.recordSurveillanceRun({
      recordedAt: '2026-06-30T06:10:00Z',
      runId: 'legacy-run',
      summary: {
        worklist: entries.map((e) => ({
          patientId: e.patientId,
          rule: e.rule,
          change: e.change,
          dueDate: e.dueDate,
          lastStudy: e.lastStudy,
          task: e.taskRef,
        })),
      },
    });
    const check = await verifyRun(runs, 'legacy-run');
    expect(check.ok).toBe(true);
    expect(check.audited).toEqual(check.now);
    expect(check.now.entries).toBe(2);
    expect(check.now.sha256).toMatch(/^[0-9a-f]{64}$/);

    await store.db.exec(
      `alter table worklist_entries disable trigger worklist_entries_append_only;
       update worklist_entries set due_date = '2027-01-01' where patient_id = 'p1';
       alter table worklist_entries enable trigger worklist_entries_append_only;`,
    );
    const altered = await verifyRun(runs, 'legacy-run');
    expect(altered.ok).toBe(false);
    expect(altered.now.entries).toBe(2);
  });
});
