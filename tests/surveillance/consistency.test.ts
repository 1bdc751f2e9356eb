/**
 * For every patient of the demo cohort on one day, the surveillance run and the patient-view card say the same
 * thing: the same decision, the same cumulative dose, and a worklist entry exactly where the card asks for a
 * WB-MRI. The card side is the real CDS pipeline (runHook) given the prefetch an EHR would send (each
 * template's search over the patient's records; Medications read from the FHIR server by reference); the
 * surveillance side is a real run over HTTP in bulk mode (Bulk Data export, SMART Backend Services token).
 */
import type { Bundle, Resource } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import type { Card } from '../../src/cdsHooks/cards.ts';
import { runHook } from '../../src/cdsHooks/service.ts';
import { PATIENT_DATA } from '../../src/cdsHooks/serviceDefinition.ts';
import { osteonecrosisScreening } from '../../src/cdsHooks/services/osteonecrosisScreening.ts';
import { resolveExposureConfig } from '../../src/exposure/config.ts';
import { patientRefOf } from '../../src/fhir/subject.ts';
import { SurveillanceRunner } from '../../src/surveillance/runner.ts';
import { cohort, finished, NOW, useTestBed } from './harness.ts';

/** The demo's cohort as `npm start` seeds it (OSTEOWATCH_COHORT_SIZE default 300, seed 42). */
const DEMO_SIZE = 300;

describe('surveillance and the patient-view card agree (whole demo cohort)', () => {
  const bed = useTestBed(() => ({
    resources: cohort(DEMO_SIZE),
    bulk: true,
    config: { mode: 'bulk', batchSize: 50, taskFhirUrl: 'none' },
  }));

  it('same decision, same dose, a worklist entry where the card asks for a WB-MRI', async () => {
    const runId = await bed.s.startRun('api');
    const run = await finished(bed.s, runId, 600_000);
    expect(run.status).toBe('succeeded');
    expect(run.counts.errors).toBe(0);
    const results = await bed.s.store.db.query<{ patient_id: string; decision: string; cumulative_mg: number | null }>(
      `select patient_id, decision, cumulative_mg from surveillance_results where run_id = $1 and decision <> 'not-in-cohort'`,
      [runId],
    );
    expect(results.length).toBe(run.counts.inCohort);
    expect(results.length).toBeGreaterThan(200);
    const worklist = (await bed.s.store.worklist({ runId, limit: 10_000 })).items;

    // The card side: the service's own pipeline, its decision captured where the cards are built.
    const decided = new Map<string, { kind: string; mg: number | null; cards: Card[] }>();
    const capturing = {
      ...osteonecrosisScreening,
      cards: (input: Parameters<typeof osteonecrosisScreening.cards>[0]) => {
        const cards = osteonecrosisScreening.cards(input);
        decided.set(input.card.patientId, {
          kind: input.screening.decision.kind,
          mg: input.card.exposure.cumulativeMg,
          cards,
        });
        return cards;
      },
    };
    const deps = {
      exposure: resolveExposureConfig({}),
      publicUrl: () => bed.server.baseUrl,
      allowOpenFhirServer: true,
      now: () => NOW,
      fhirLimits: { timeoutMs: 30_000, maxPages: 1000, maxResources: 10_000, concurrency: 8 },
      hookDeadlineMs: 120_000,
    };
    // The prefetch an EHR sends: each template's search (type, and code where it has one) over the patient's records.
    const byPatient = new Map<string, Resource[]>();
    for (const r of bed.resources) {
      const ref = patientRefOf(r);
      if (ref) byPatient.set(ref, [...(byPatient.get(ref) ?? []), r]);
    }
    const prefetchFor = (patientId: string) =>
      Object.fromEntries(
        Object.entries(PATIENT_DATA).map(([key, spec]) => {
          const mine = byPatient.get(`Patient/${patientId}`) ?? [];
          const type = spec.query.split(/[/?]/)[0]!;
          if (!spec.query.includes('?')) return [key, mine.find((r) => r.resourceType === type) ?? null];
          const code = /code=([^|&]+)\|([^&]+)/.exec(spec.query);
          const hits = mine.filter(
            (r) =>
              r.resourceType === type &&
              (!code ||
                ((r as { code?: { coding?: Array<{ system?: string; code?: string }> } }).code?.coding ?? []).some(
                  (c) => c.system === code[1] && c.code === code[2],
                )),
          );
          const bundle: Bundle = {
            resourceType: 'Bundle',
            type: 'searchset',
            entry: hits.map((resource) => ({ resource })),
          };
          return [key, bundle];
        }),
      );
    for (const r of results) {
      await runHook(
        capturing,
        {
          hook: 'patient-view',
          hookInstance: `consistency-${r.patient_id}`,
          fhirServer: bed.server.fhirUrl,
          context: { patientId: r.patient_id, userId: 'Practitioner/1' },
          prefetch: prefetchFor(r.patient_id),
        },
        { iss: 'test' },
        deps,
      );
    }
    const mismatches: string[] = [];
    for (const r of results) {
      const card = decided.get(r.patient_id);
      if (!card) {
        mismatches.push(`${r.patient_id}: no card`);
        continue;
      }
      if (card.kind !== r.decision) mismatches.push(`${r.patient_id}: card ${card.kind}, run ${r.decision}`);
      if (card.mg !== (r.cumulative_mg === null ? null : Number(r.cumulative_mg)))
        mismatches.push(`${r.patient_id}: card ${card.mg} mg, run ${r.cumulative_mg} mg`);
      // A card that suggests the WB-MRI order ⇔ a screening or follow-up entry on the worklist.
      const suggests = card.cards.some((c) => (c.suggestions ?? []).length > 0);
      const listed = worklist.some(
        (e) => e.patientId === r.patient_id && e.rule !== 'findings' && e.rule !== 'exposure-unknown',
      );
      // Exposure unknown on the card ⇔ an entry for review on the worklist: nobody left off for want of a number.
      const review = worklist.some((e) => e.patientId === r.patient_id && e.rule === 'exposure-unknown');
      if ((card.kind === 'exposure-unknown') !== review)
        mismatches.push(`${r.patient_id}: card ${card.kind}, review entry ${review}`);
      if (suggests !== listed) mismatches.push(`${r.patient_id}: card suggests order ${suggests}, worklist ${listed}`);
      const findingsCard = card.cards.some((c) => /osteonecrosis/i.test(c.summary) && c.indicator !== 'info');
      const findingsEntry = worklist.some((e) => e.patientId === r.patient_id && e.rule === 'findings');
      if (findingsEntry && !findingsCard) mismatches.push(`${r.patient_id}: findings entry without a findings card`);
    }
    expect(mismatches).toEqual([]);
    // The cohort exercises the rules: not all one decision.
    expect(new Set(results.map((r) => r.decision)).size).toBeGreaterThan(3);

    // Near midnight, one rule for "today": at 22:00 UTC it is the next morning in Tokyo, for the card as for a
    // run started then (OSTEOWATCH_TZ), not the UTC day before.
    const tokyo = { ...deps, now: () => new Date('2026-06-30T22:00:00Z'), timeZone: 'Asia/Tokyo' };
    let cardDay: string | undefined;
    const dayCapturing = {
      ...osteonecrosisScreening,
      cards: (input: Parameters<typeof osteonecrosisScreening.cards>[0]) => {
        cardDay = input.card.asOf;
        return osteonecrosisScreening.cards(input);
      },
    };
    const first = results[0]!.patient_id;
    await runHook(
      dayCapturing,
      {
        hook: 'patient-view',
        hookInstance: 'consistency-tokyo',
        fhirServer: bed.server.fhirUrl,
        context: { patientId: first, userId: 'Practitioner/1' },
        prefetch: prefetchFor(first),
      },
      { iss: 'test' },
      tokyo,
    );
    expect(cardDay).toBe('2026-07-01');
    const runner = new SurveillanceRunner({ ...bed.s.runner.d, now: tokyo.now, timeZone: 'Asia/Tokyo' });
    expect(runner.today()).toBe(cardDay);
  }, 900_000);
});
