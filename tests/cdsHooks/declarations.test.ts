/**
 * Each CDS service is declared once (src/cdsHooks/services/); the published discovery documents in
 * cds-hooks/services/ are generated from it (`npm run cds-services`) and must not drift.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { discoveryEntry } from '../../src/cdsHooks/serviceDefinition.ts';
import { CDS_SERVICES } from '../../src/cdsHooks/services/index.ts';

const dir = new URL('../../cds-hooks/services/', import.meta.url);

/**
 * CDS Hooks 2.0 prefetch templates (https://cds-hooks.hl7.org/2.0/#prefetch-template): a read of one resource,
 * or a type search whose parameters are token, reference or date parameters with prefetch tokens.
 */
const PREFETCH =
  /^[A-Z][A-Za-z]+(\/\{\{context\.[a-zA-Z]+\}\}|\?([a-z_][a-z0-9_-]*(:in)?=[^&]+)(&[a-z_][a-z0-9_-]*(:in)?=[^&]+)*)$/;

describe('CDS service declarations', () => {
  it('cds-hooks/services/ holds exactly one discovery document per service, generated from its declaration', () => {
    const files = readdirSync(dir)
      .filter((f) => f.endsWith('.json'))
      .sort();
    expect(files).toEqual(CDS_SERVICES.map((s) => `${s.id}.json`).sort());
    for (const s of CDS_SERVICES)
      expect(JSON.parse(readFileSync(new URL(`${s.id}.json`, dir), 'utf8'))).toEqual(discoveryEntry(s));
  });

  it('every prefetch template is a CDS Hooks 2.0 template, and ids are unique URL segments', () => {
    for (const s of CDS_SERVICES) {
      expect(s.id).toMatch(/^[A-Za-z0-9-]+$/);
      for (const [key, spec] of Object.entries(s.prefetch)) {
        expect(key).toMatch(/^[A-Za-z][A-Za-z0-9]*$/);
        expect(spec.query, `${s.id}.${key}`).toMatch(PREFETCH);
      }
    }
    expect(new Set(CDS_SERVICES.map((s) => s.id)).size).toBe(CDS_SERVICES.length);
  });

  it('only the Patient read may be missing: the rest is required (412 rather than a guess)', () => {
    for (const s of CDS_SERVICES)
      expect(
        Object.entries(s.prefetch)
          .filter(([, v]) => v.onMissing === 'optional')
          .map(([k]) => k),
      ).toEqual(['patient']);
  });
});
