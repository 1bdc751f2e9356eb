/**
 * Evaluation in worker threads gives exactly what evaluation in the batch's own thread gives, for resources and
 * for staged NDJSON lines alike, in the order asked; a closed pool refuses work.
 */
import type { Resource } from '@medplum/fhirtypes';
import { afterAll, describe, expect, it } from 'vitest';
import { resolveExposureConfig } from '../../src/exposure/config.ts';
import type { PatientRecords } from '../../src/screening/assess.ts';
import { inlineEvaluator, type PatientInput, workerEvaluator } from '../../src/surveillance/evaluationPool.ts';
import { emptyRecords, KEY_OF, type StagedLines } from '../../src/surveillance/stagedRecords.ts';
import { AS_OF, cohort } from './harness.ts';

/** The generated cohort's records by patient, as resources and as the lines a bulk load stages. */
function inputs(): { records: PatientInput[]; lines: PatientInput[] } {
  const byPatient = new Map<string, { records: PatientRecords; lines: StagedLines }>();
  const resources = cohort(60);
  const medications = new Map(
    resources.filter((r) => r.resourceType === 'Medication').map((m) => [`Medication/${m.id}`, m]),
  );
  for (const r of resources) {
    const ref = (r as { subject?: { reference?: string } }).subject?.reference;
    const key = KEY_OF[r.resourceType];
    if (!ref || !key) continue;
    const id = ref.slice('Patient/'.length);
    if (!byPatient.has(id)) byPatient.set(id, { records: emptyRecords(), lines: { staged: [], medications: [] } });
    const p = byPatient.get(id)!;
    p.records[key].push(r);
    p.lines.staged.push(JSON.stringify(r));
    const med = (r as { medicationReference?: { reference?: string } }).medicationReference?.reference;
    const m = med ? medications.get(med) : undefined;
    if (m && !p.records.medications.includes(m as Resource)) {
      p.records.medications.push(m as Resource);
      p.lines.medications.push(JSON.stringify(m));
    }
  }
  const ids = [...byPatient.keys()].sort();
  return {
    records: ids.map((id) => [id, byPatient.get(id)!.records]),
    lines: ids.map((id) => [id, byPatient.get(id)!.lines]),
  };
}

describe('evaluation pool', () => {
  const pool = workerEvaluator(2);
  afterAll(() => pool.close());
  const options = { asOf: AS_OF, exposure: resolveExposureConfig({}) };

  it('worker threads and the own thread agree, on resources and on staged lines, in order', async () => {
    const { records, lines } = inputs();
    const expected = await inlineEvaluator().evaluate(records, options);
    expect(expected.filter((e) => e.result.decision !== 'not-in-cohort').length).toBeGreaterThan(20);
    expect(expected.some((e) => e.items.length > 0)).toBe(true);
    expect(expected.map((e) => e.result.patientId)).toEqual(records.map(([id]) => id));
    expect(await pool.evaluate(records, options)).toEqual(expected);
    expect(await pool.evaluate(lines, options)).toEqual(expected);
    // Two calls at once (two batches in flight) each get their own answers.
    const [a, b] = await Promise.all([
      pool.evaluate(lines.slice(0, 25), options),
      pool.evaluate(lines.slice(25), options),
    ]);
    expect([...a, ...b]).toEqual(expected);
  }, 120_000);

  it('a closed pool refuses work', async () => {
    const closed = workerEvaluator(1);
    await closed.close();
    await expect(closed.evaluate(inputs().lines.slice(0, 1), options)).rejects.toThrow(/closed/);
  });
});
