/**
 * Every code OsteoWatch puts on a card (override reasons, source topic) is defined, with the same display,
 * in the CodeSystems published in profiles/ — checked on the committed example exchanges, which a test
 * keeps equal to what the service answers.
 */
import { readdirSync, readFileSync } from 'node:fs';
import type { CodeSystem } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';

const read = (url: URL) => JSON.parse(readFileSync(url, 'utf8'));
const systems = new Map<string, CodeSystem>(
  ['override-reason', 'cds-topic'].map((id) => {
    const cs = read(new URL(`../../profiles/CodeSystem-${id}.json`, import.meta.url)) as CodeSystem;
    return [cs.url!, cs];
  }),
);

function codingsIn(value: unknown, out: Array<{ system: string; code: string; display?: string }> = []) {
  if (Array.isArray(value)) for (const v of value) codingsIn(v, out);
  else if (value && typeof value === 'object') {
    const o = value as Record<string, unknown>;
    if (typeof o.system === 'string' && o.system.startsWith('http://osteowatch.org/fhir/CodeSystem/'))
      out.push(o as { system: string; code: string; display?: string });
    for (const v of Object.values(o)) codingsIn(v, out);
  }
  return out;
}

describe('card codes', () => {
  it('are all defined in the published CodeSystems, displays included', () => {
    const dir = new URL('../../cds-hooks/examples/', import.meta.url);
    const codings = readdirSync(dir)
      .filter((f) => f.endsWith('.json'))
      .flatMap((f) => codingsIn(read(new URL(f, dir))));
    const used = new Set(codings.map((c) => `${c.system}|${c.code}`));
    expect(used.has('http://osteowatch.org/fhir/CodeSystem/override-reason|patient-declined')).toBe(true);
    expect(used.has('http://osteowatch.org/fhir/CodeSystem/cds-topic|osteonecrosis-screening')).toBe(true);
    for (const c of codings) {
      const cs = systems.get(c.system);
      if (!cs) continue; // the grading system has its own test
      const concept = cs.concept?.find((k) => k.code === c.code);
      expect(concept, `${c.system}|${c.code}`).toBeDefined();
      expect(c.display).toBe(concept!.display);
    }
  });
});
