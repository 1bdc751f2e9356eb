import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { validateResource } from '@medplum/core';
import type { Condition, Resource } from '@medplum/fhirtypes';
import { beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/main.ts';
import { cohortTransaction, generateCohort, generatePatients } from '../../src/cohort/generate.ts';
import { computeExposure } from '../../src/exposure/index.ts';
import { loadFhirDefinitions } from '../../src/fhir/definitions.ts';
import { groupByPatient } from '../../src/fhir/subject.ts';
import { MYOSITIS } from '../../src/terminology/diagnoses.ts';

const asOf = '2026-11-21';
let cohort: Resource[];

beforeAll(() => {
  loadFhirDefinitions();
  cohort = generateCohort({ size: 300, seed: 42, asOf });
});

describe('synthetic cohort', () => {
  it('is deterministic for a seed and differs between seeds', () => {
    expect(JSON.stringify(generateCohort({ size: 300, seed: 42, asOf }))).toBe(JSON.stringify(cohort));
    expect(JSON.stringify(generateCohort({ size: 300, seed: 43, asOf }))).not.toBe(JSON.stringify(cohort));
  });

  it('streams the same cohort a patient at a time: generatePatients and generateCohort agree byte for byte', () => {
    const patients = [...generatePatients({ size: 300, seed: 42, asOf })];
    expect(patients).toHaveLength(300);
    for (const [i, resources] of patients.entries()) {
      expect(resources[0]).toMatchObject({ resourceType: 'Patient', id: `ow-${String(i + 1).padStart(4, '0')}` });
      expect(
        resources.every(
          (r) => r.resourceType === 'Patient' || JSON.stringify(r).includes(`"Patient/${resources[0]!.id}"`),
        ),
      ).toBe(true);
    }
    expect(JSON.stringify(patients.flat())).toBe(JSON.stringify(cohort));
  });

  it('`cohort generate` writes the same resources as a Bundle, as NDJSON, and split by type into a directory', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ow-cohort-'));
    try {
      const base = ['cohort', 'generate', '--size', '40', '--seed', '42', '--as-of', asOf];
      const small = generateCohort({ size: 40, seed: 42, asOf });
      expect(await runCli([...base, '--out', join(dir, 'b.json')])).toBe(0);
      expect(readFileSync(join(dir, 'b.json'), 'utf8')).toBe(`${JSON.stringify(cohortTransaction(small))}\n`);
      expect(await runCli([...base, '--format', 'ndjson', '--out', join(dir, 'c.ndjson')])).toBe(0);
      expect(readFileSync(join(dir, 'c.ndjson'), 'utf8')).toBe(small.map((r) => `${JSON.stringify(r)}\n`).join(''));
      expect(await runCli([...base, '--format', 'ndjson', '--split', '--out', join(dir, 'export')])).toBe(0);
      const types = [...new Set(small.map((r) => r.resourceType))].sort();
      expect(readdirSync(join(dir, 'export')).sort()).toEqual(types.map((t) => `${t}.ndjson`));
      for (const t of types)
        expect(readFileSync(join(dir, 'export', `${t}.ndjson`), 'utf8')).toBe(
          small
            .filter((r) => r.resourceType === t)
            .map((r) => `${JSON.stringify(r)}\n`)
            .join(''),
        );
      // An existing directory implies --split; a Bundle cannot be split.
      expect(await runCli([...base, '--format', 'ndjson', '--out', join(dir, 'export')])).toBe(0);
      expect(await runCli([...base, '--out', join(dir, 'export')])).toBe(2);
      expect(await runCli([...base, '--format', 'ndjson', '--split'])).toBe(2);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('every generated resource passes the @medplum/core FHIR validator', () => {
    const failures: string[] = [];
    for (const r of cohort) {
      try {
        const errors = validateResource(r).filter((i) => i.severity === 'error');
        if (errors.length) failures.push(`${r.resourceType}/${r.id}: ${JSON.stringify(errors[0])}`);
      } catch (err) {
        failures.push(
          `${r.resourceType}/${r.id}: ${JSON.stringify((err as { outcome?: unknown }).outcome ?? String(err))}`,
        );
      }
    }
    expect(failures).toEqual([]);
  });

  it('has a few hundred patients, mostly myositis, some other steroid-treated cohorts', () => {
    const conditions = cohort.filter((r): r is Condition => r.resourceType === 'Condition');
    const myositisCodes = new Set(MYOSITIS.map((m) => m.snomed));
    const myositis = conditions.filter((c) => c.code?.coding?.some((x) => myositisCodes.has(x.code!)));
    expect(cohort.filter((r) => r.resourceType === 'Patient')).toHaveLength(300);
    expect(myositis.length).toBeGreaterThan(220);
    expect(conditions.length - myositis.length).toBeGreaterThan(20);
  });

  it('contains pulses, tablets with strength, switches, prior WB-MRI and data-quality problems', () => {
    const types = new Set(cohort.map((r) => r.resourceType));
    expect(types).toEqual(
      new Set([
        'Patient',
        'Condition',
        'MedicationStatement',
        'MedicationRequest',
        'MedicationAdministration',
        'ImagingStudy',
        'DiagnosticReport',
      ]),
    );
    const text = JSON.stringify(cohort);
    expect(text).toContain('"code":"{tbl}"');
    expect(text).toContain('"code":"46358-8"');
    expect(text).toContain('"status":"unknown"');
    expect(text).toContain('"asNeededBoolean":true');
  });

  it('gives realistic exposures: most myositis patients above 3,000 mg, some below, none uncomputable', () => {
    const patients = groupByPatient(cohort);
    let above = 0;
    let below = 0;
    let unknown = 0;
    for (const [ref] of patients) {
      const e = computeExposure({ resources: patients.get(ref)!, patient: ref, asOf });
      if (e.cumulativeMg === null) unknown++;
      else if (e.threshold.crossedOn) above++;
      else below++;
    }
    expect(unknown).toBe(0);
    expect(above).toBeGreaterThan(150);
    expect(below).toBeGreaterThan(20);
  });
});
