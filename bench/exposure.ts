/**
 * Exposure engine benchmark: one patient with two years of taper steps recorded as ~200 MedicationStatements
 * (the issue-2 target: under 1 ms per patient after warm-up), and a 300-patient cohort pass.
 */
import type { MedicationStatement, Resource } from '@medplum/fhirtypes';
import { Bench } from 'tinybench';
import { generateCohort } from '../src/cohort/generate.ts';
import { dayFromIso, isoFromDay } from '../src/exposure/dates.ts';
import { computeExposure } from '../src/exposure/index.ts';
import { groupByPatient } from '../src/fhir/subject.ts';

export function twoYearTaper(): Resource[] {
  const out: MedicationStatement[] = [];
  const start = dayFromIso('2024-11-21');
  let day = start;
  let dose = 60;
  for (let i = 0; i < 200; i++) {
    const len = i % 3 === 0 ? 4 : 3; // ~730 days in 200 statements
    out.push({
      resourceType: 'MedicationStatement',
      id: `bench-${i}`,
      status: 'completed',
      subject: { reference: 'Patient/bench' },
      medicationCodeableConcept: {
        coding: [
          {
            system: 'http://www.nlm.nih.gov/research/umls/rxnorm',
            code: i % 2 ? '312617' : '8638',
            display: i % 2 ? 'predniSONE 5 MG Oral Tablet' : 'prednisolone',
          },
        ],
      },
      effectivePeriod: { start: isoFromDay(day), end: isoFromDay(day + len - 1) },
      dosage: [
        {
          sequence: 1,
          route: { coding: [{ system: 'http://snomed.info/sct', code: '26643006' }] },
          timing: { repeat: { frequency: 1, period: 1, periodUnit: 'd' } },
          doseAndRate: [
            {
              doseQuantity:
                i % 2
                  ? { value: dose / 5, unit: 'tablet', system: 'http://unitsofmeasure.org', code: '{tbl}' }
                  : { value: dose, unit: 'mg', system: 'http://unitsofmeasure.org', code: 'mg' },
            },
          ],
        },
      ],
    });
    day += len;
    if (i % 10 === 9 && dose > 7.5) dose -= 2.5;
  }
  return out;
}

export async function runExposureBench(): Promise<void> {
  const patient = twoYearTaper();
  const asOf = '2026-11-21';
  const check = computeExposure({ resources: patient, patient: 'bench', asOf });
  const cohort = generateCohort({ size: 300, seed: 42, asOf });
  const byPatient = groupByPatient(cohort);

  const bench = new Bench({ time: 2000, warmupTime: 500 });
  bench.add('exposure: 1 patient, 200 taper statements over 2 years', () => {
    computeExposure({ resources: patient, patient: 'bench', asOf });
  });
  bench.add('exposure: 300-patient synthetic cohort (per cohort)', () => {
    for (const [ref, resources] of byPatient) computeExposure({ resources, patient: ref, asOf });
  });
  await bench.run();

  console.log(
    `\nExposure engine (statements: ${patient.length}, days counted: ${check.timeline.length}, cumulative ${check.cumulativeMg} mg)`,
  );
  for (const task of bench.tasks) {
    const r = task.result;
    if (r?.state !== 'completed') {
      console.log(`  ${task.name}: did not complete`);
      continue;
    }
    const l = r.latency;
    console.log(
      `  ${task.name}\n    mean ${l.mean.toFixed(3)} ms  p50 ${l.p50?.toFixed(3)} ms  p99 ${l.p99?.toFixed(3)} ms  (${r.throughput.mean.toFixed(0)} ops/s, ${l.samplesCount} samples)`,
    );
  }
  const single = bench.tasks[0]!.result;
  if (single?.state === 'completed') {
    const mean = single.latency.mean;
    console.log(`  target < 1 ms per patient after warm-up: ${mean < 1 ? 'MET' : 'NOT MET'} (${mean.toFixed(3)} ms)`);
  }
}
