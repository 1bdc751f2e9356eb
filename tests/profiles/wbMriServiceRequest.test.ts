import { readFileSync } from 'node:fs';
import { validateResource } from '@medplum/core';
import type { ServiceRequest, StructureDefinition } from '@medplum/fhirtypes';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadFhirDefinitions } from '../../src/fhir/definitions.ts';
import { wbMriServiceRequest, wbMriServiceRequestProfile } from '../../src/profiles/wbMriServiceRequest.ts';

const file = new URL('../../profiles/StructureDefinition-osteowatch-wbmri-servicerequest.json', import.meta.url);
let profile: StructureDefinition;
const errors = (r: ServiceRequest) => {
  try {
    return validateResource(r, { profile }).filter((i) => i.severity === 'error');
  } catch (err) {
    return (err as { outcome: { issue: unknown[] } }).outcome.issue;
  }
};

beforeAll(() => {
  loadFhirDefinitions();
  profile = JSON.parse(readFileSync(file, 'utf8'));
});

describe('WB-MRI ServiceRequest profile (profiles/)', () => {
  it('is the one the code defines (run `npm run profiles` after changing it)', () => {
    expect(profile).toEqual(wbMriServiceRequestProfile());
  });

  it('is a valid StructureDefinition with a snapshot', () => {
    expect(validateResource(profile).filter((i) => i.severity === 'error')).toEqual([]);
    expect(profile.snapshot!.element.length).toBeGreaterThan(30);
  });

  it('accepts the draft order the CDS cards suggest', () => {
    const sr = wbMriServiceRequest(
      'p1',
      { start: '2026-06-01', end: '2026-08-25' },
      'Cumulative glucocorticoid exposure 6,020 mg',
    );
    expect(sr.meta?.profile).toEqual([profile.url]);
    expect(errors(sr)).toEqual([]);
  });

  it('rejects a request for another study, or without its due window or reason', () => {
    const ok = wbMriServiceRequest('p1', { start: '2026-06-01' }, 'reason');
    expect(
      errors({ ...ok, code: { coding: [{ system: 'http://loinc.org', code: '24558-9' }] } }).length,
    ).toBeGreaterThan(0);
    const { occurrencePeriod: _o, ...noWindow } = ok;
    expect(errors(noWindow as ServiceRequest).length).toBeGreaterThan(0);
    const { reasonCode: _r, ...noReason } = ok;
    expect(errors(noReason as ServiceRequest).length).toBeGreaterThan(0);
  });
});

describe('every conformance resource in profiles/', () => {
  it('matches the catalog (run `npm run profiles`) and passes the FHIR validator', async () => {
    const { conformanceResources, fileNameOf } = await import('../../src/profiles/catalog.ts');
    for (const r of conformanceResources()) {
      const onDisk = JSON.parse(readFileSync(new URL(`../../profiles/${fileNameOf(r)}`, import.meta.url), 'utf8'));
      expect(onDisk).toEqual(r);
      expect(
        validateResource(onDisk).filter((i) => i.severity === 'error'),
        fileNameOf(r),
      ).toEqual([]);
    }
  });
});
