/**
 * The worklist's pages (RunStore.worklist, behind GET /surveillance/worklist and the dashboard) are read through
 * the index made for their order (migration 014), not by sorting all of a run's entries for every page: the
 * query's urgency expression and the index's must stay word for word the same, and a change of the urgent rules
 * (src/screening/urgency.ts) without a migration would quietly bring the sort back. Checked on the plan, with
 * sequential scans and sorts priced out so that the plan says whether the index can serve the query at all; and
 * the pages, read one after another, give every entry once in the documented order.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isUrgent } from '../../src/screening/urgency.ts';
import { WORKLIST_RULES } from '../../src/screening/worklist.ts';
import type { Db, Queryable } from '../../src/store/db.ts';
import { RunStore, type WorklistRow } from '../../src/surveillance/runStore.ts';
import { type StoreTarget, storeTargets } from '../helpers/store.ts';

const RUN = 'r-paging';
const CHANGES = ['new', 'still-due', 'resolved'] as const;

/** 150 entries: every rule and change, due dates spread over a year, some missing. */
const entries: WorklistRow[] = Array.from({ length: 150 }, (_, i) => ({
  runId: RUN,
  patientId: `p${String(i % 50).padStart(3, '0')}`,
  rule: WORKLIST_RULES[i % WORKLIST_RULES.length]!,
  change: CHANGES[Math.floor(i / 50)]!,
  dueDate:
    i % 11 === 0 ? null : `2026-${String(1 + (i % 12)).padStart(2, '0')}-${String(1 + (i % 28)).padStart(2, '0')}`,
  overdueFrom: null,
  daysOverdue: null,
  cumulativeMg: 4000 + i,
  lowerBound: false,
  lastStudy: null,
  summary: `entry ${i}`,
  taskRef: null,
  taskError: null,
}));

/** The documented order: urgent, then due, then resolved; due date (missing last); patient, rule, change. */
const urgency = (e: WorklistRow) => (e.change === 'resolved' ? 2 : isUrgent(e.rule) ? 0 : 1);
const sortKey = (e: WorklistRow) => [urgency(e), e.dueDate ?? '9999-12-31', e.patientId, e.rule, e.change].join('|');

for (const target of storeTargets()) {
  describe(`worklist pages (${target.name})`, () => {
    let store: Awaited<ReturnType<StoreTarget['open']>>;
    beforeAll(async () => {
      store = await target.open();
      const runs = new RunStore(store.db);
      await runs.createRun({
        runId: RUN,
        trigger: 'api',
        mode: 'crawl',
        fhirBase: 'http://ehr.example/fhir',
        asOf: '2026-06-30',
        rulesHash: 'h',
        now: new Date('2026-06-30T08:00:00Z'),
      });
      await runs.insertEntries(entries);
      await store.db.exec('analyze worklist_entries');
    });
    afterAll(() => store?.dispose());

    /** The worklist page query as RunStore sends it, caught on its way to the database. */
    async function pageQuery(q: Parameters<RunStore['worklist']>[0]): Promise<{ sql: string; params: unknown[] }> {
      let caught: { sql: string; params: unknown[] } | undefined;
      const spy = new Proxy(store.db, {
        get(db, key) {
          if (key !== 'query') return Reflect.get(db, key, db);
          return (sql: string, params: unknown[] = []) => {
            if (/^\s*select \* from worklist_entries/.test(sql)) caught = { sql, params };
            return db.query(sql, params);
          };
        },
      }) as Db;
      await new RunStore(spy).worklist(q);
      expect(caught).toBeDefined();
      return caught!;
    }

    /** Its plan with sequential scans and sorts priced out: an index serves it, or a Sort is still there. */
    async function planOf(q: Parameters<RunStore['worklist']>[0]): Promise<string> {
      const { sql, params } = await pageQuery(q);
      return store.db.transaction(async (tx: Queryable) => {
        await tx.query('set local enable_seqscan = off');
        await tx.query('set local enable_sort = off');
        await tx.query('set local enable_bitmapscan = off');
        const [row] = await tx.query<{ 'QUERY PLAN': unknown }>(`explain (format json) ${sql}`, params);
        return JSON.stringify(row!['QUERY PLAN']);
      });
    }

    it('a page is read through the index in the page order, the first one, a later one and a filtered one', async () => {
      const first = await new RunStore(store.db).worklist({ runId: RUN, limit: 7 });
      for (const q of [
        { runId: RUN, limit: 7 },
        { runId: RUN, limit: 7, cursor: first.next },
        { runId: RUN, limit: 7, rules: ['findings' as const], changes: ['new' as const], patient: 'p01' },
      ]) {
        const plan = await planOf(q);
        expect(plan).toContain('worklist_entries_urgency_page');
        expect(plan).not.toContain('"Node Type":"Sort"');
        expect(plan).not.toContain('"Node Type":"Incremental Sort"');
      }
    });

    it('pages read one after another give every entry once, in the documented order', async () => {
      const runs = new RunStore(store.db);
      const seen: WorklistRow[] = [];
      let cursor: string | undefined;
      do {
        const page = await runs.worklist({ runId: RUN, limit: 7, cursor });
        expect(page.total).toBe(entries.length);
        seen.push(...page.items);
        cursor = page.next;
      } while (cursor);
      expect(seen.map(sortKey)).toEqual(entries.map(sortKey).toSorted());
    });
  });
}
