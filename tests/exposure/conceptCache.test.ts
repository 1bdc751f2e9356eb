/**
 * The engine remembers what a coded medication is (src/exposure/conceptCache.ts), by what the resolver reads of
 * the concept. One concept must never stand for another: concepts that differ in any value read (absent or
 * empty, a string or a number) are resolved each on its own, a concept with a member the cache does not read
 * (an extension) is resolved every time, and JSON that is not a concept at all (null, a string, a number) is
 * reported, not a crash.
 */
import type { CodeableConcept, MedicationStatement } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { cachedResolution } from '../../src/exposure/conceptCache.ts';
import { computeExposure } from '../../src/exposure/index.ts';
import type { MedicationResolution } from '../../src/exposure/medication.ts';
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

  it('resolves a concept once, and every concept that differs in a value read on its own', () => {
    let calls = 0;
    const resolve = (): MedicationResolution => {
      calls++;
      return { kind: 'unidentified', message: `resolution ${calls}` };
    };
    const of = (concept: unknown, display?: unknown) =>
      cachedResolution(concept as CodeableConcept, display as string, resolve);
    const code = (c: unknown, text?: unknown) => ({ coding: [{ system: RX, code: c, display: 'x' }], text });
    const first = of(code('900001', 't'));
    expect(of(code('900001', 't'))).toBe(first);
    expect(calls).toBe(1);
    expect(Object.isFrozen(first)).toBe(true);
    // Each of these differs from the first in one value the resolver reads: each resolved on its own, and once.
    const others = [
      code('900001', ''),
      code('900001', undefined),
      code('900001', 'T'),
      code(900001, 't'),
      {
        coding: [
          { system: RX, code: '900001', display: 'x' },
          { system: RX, code: '900002' },
        ],
        text: 't',
      },
      { coding: [{ code: '900001', display: 'x' }], text: 't' },
    ];
    for (const c of others) of(c);
    expect(calls).toBe(1 + others.length);
    // Asked again, each is remembered — but the number code, never remembered (see below).
    for (const c of others) of(c);
    expect(calls).toBe(2 + others.length);
    // With the reference's display beside it, another concept again.
    of(code('900001', 't'), 'Prednisone 5 MG');
    of(code('900001', 't'), 'Prednisone 5 MG');
    expect(calls).toBe(3 + others.length);
  });

  it('remembers nothing of a concept whose resolving failed', () => {
    const concept = { coding: [{ system: RX, code: '900004' }] };
    expect(() =>
      cachedResolution(concept, undefined, () => {
        throw new Error('resolver failed');
      }),
    ).toThrow('resolver failed');
    const resolution: MedicationResolution = { kind: 'unidentified', message: 'resolved' };
    expect(cachedResolution(concept, undefined, () => resolution)).toBe(resolution);
  });

  it('resolves every time a concept with a member it does not read, or a value that is not a string', () => {
    let calls = 0;
    const resolve = (): MedicationResolution => {
      calls++;
      return { kind: 'unidentified', message: 'x' };
    };
    const plain = { coding: [{ system: RX, code: '900003', display: 'y' }] };
    for (const c of [
      { ...plain, extension: [{ url: 'http://example.org/x', valueString: 'y' }] },
      { coding: [{ ...plain.coding[0], version: '2024' }] },
      { coding: [{ ...plain.coding[0], code: 900003 }] },
      { coding: 'not an array' },
      null,
      'prednisone',
    ]) {
      cachedResolution(c as CodeableConcept, undefined, resolve);
      cachedResolution(c as CodeableConcept, undefined, resolve);
    }
    expect(calls).toBe(12);
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
