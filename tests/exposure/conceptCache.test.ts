/**
 * The engine remembers what a coded medication is (src/exposure/evaluate.ts, resolveConcept), keyed on what the
 * resolver reads of the concept. A key must never let one concept stand for another: two concepts that differ
 * only in a character the key uses as a separator, or in a member the key leaves out, are resolved each on its
 * own; JSON that is not a concept at all (null, a string, a number) is reported, not a crash.
 */
import type { MedicationStatement } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { computeExposure } from '../../src/exposure/index.ts';
import { daily, dosage, mg, RX } from './builders.ts';

const AS_OF = '2026-06-30';

function statement(id: string, concept: unknown): MedicationStatement {
  return {
    resourceType: 'MedicationStatement',
    id,
    status: 'completed',
    subject: { reference: 'Patient/p1' },
    medicationCodeableConcept: concept as MedicationStatement['medicationCodeableConcept'],
    dosage: [dosage({ ...daily, dose: mg(10), start: '2026-01-01', end: '2026-01-10' })],
  };
}

const exposureOf = (s: MedicationStatement) => computeExposure({ resources: [s], asOf: AS_OF, timeline: false });

describe('the concept cache', () => {
  it('does not confuse a text that spells out another concept with its separators', () => {
    const coded = { coding: [{ system: RX, code: '8640', display: 'prednisone' }], text: 'x' };
    // Joined with the key's separators, this text reads like `coded`'s text and coding.
    const spelled = { text: `x\u0000${RX}\u00018640\u0001prednisone` };
    const a = exposureOf(statement('coded', coded));
    const b = exposureOf(statement('spelled', spelled));
    expect(a.issues.map((i) => i.code)).not.toContain('ingredient-from-text');
    // Resolved from its own text (the name found there, flagged), not from the coded concept's cache entry.
    expect(b.issues.map((i) => i.code)).toContain('ingredient-from-text');
    expect(a.cumulativeMg).toBe(100);
  });

  it('keys a concept with any other member (an extension) apart from the same codes without it', () => {
    const plain = { coding: [{ system: RX, code: '8638', display: 'prednisolone' }] };
    const extended = { ...plain, extension: [{ url: 'http://example.org/x', valueString: 'y' }] };
    expect(exposureOf(statement('plain', plain)).cumulativeMg).toBe(100);
    expect(exposureOf(statement('extended', extended)).cumulativeMg).toBe(100);
  });

  it.each([
    ['null', null],
    ['a string', 'prednisone'],
    ['a number', 8640],
    ['an array', [{ text: 'prednisone' }]],
  ])('reports a medication written as %s, and goes on', (_, concept) => {
    const summary = exposureOf(statement('odd', concept));
    expect(summary.contributions.map((c) => c.source)).not.toContain('MedicationStatement/odd');
    expect(summary.issues.find((i) => i.source === 'MedicationStatement/odd')?.severity).toBe('error');
    expect(summary.cumulativeMg).toBeNull();
  });
});
