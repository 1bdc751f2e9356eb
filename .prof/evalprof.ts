import { readFileSync, readdirSync } from 'node:fs';
import { resolveExposureConfig } from '../src/exposure/config.ts';
import { referenceKey } from '../src/exposure/dedupe.ts';
import { patientRefOf } from '../src/fhir/subject.ts';
import { passesTypeFilter } from '../src/surveillance/bulkSource.ts';
import { evaluatePatient } from '../src/surveillance/evaluate.ts';
import { emptyRecords, KEY_OF } from '../src/surveillance/stagedRecords.ts';
const dir = '/tmp/coh';
const t0 = performance.now();
const byPatient = new Map<string, any>();
const meds = new Map<string, any>();
let n = 0;
for (const f of readdirSync(dir)) for (const line of readFileSync(`${dir}/${f}`, 'utf8').split('\n')) {
  if (!line) continue; const r = JSON.parse(line); n++;
  if (r.resourceType === 'Medication') meds.set(`Medication/${r.id}`, r);
  const key = (KEY_OF as any)[r.resourceType]; const ref = patientRefOf(r);
  if (!ref || (r.resourceType !== 'Patient' && !(key && passesTypeFilter(r)))) continue;
  const id = ref.slice(8); const rec = byPatient.get(id) ?? emptyRecords(); byPatient.set(id, rec); if (key) rec[key].push(r);
}
const t1 = performance.now();
const exposure = resolveExposureConfig({});
const reps = Number(process.env.REPS ?? 1);
for (let k = 0; k < reps; k++) for (const [id, records] of byPatient) {
  records.medications = [];
  evaluatePatient(id, records, { asOf: '2026-06-30', exposure });
}
const t2 = performance.now();
console.log({ resources: n, patients: byPatient.size, parseMs: Math.round(t1 - t0), evalMs: Math.round((t2 - t1) / reps) });
