import { describe, expect, it } from 'vitest';
import { canonicalJson, chainHash, GENESIS_HASH, place, prepareEntry } from '../../src/audit/chain.ts';

describe('canonical JSON and the chain hash', () => {
  it('sorts keys at every level, drops undefined members, keeps array order', () => {
    expect(canonicalJson({ b: 1, a: { d: [3, { z: 1, y: undefined, x: 'é"' }], c: null }, u: undefined })).toBe(
      '{"a":{"c":null,"d":[3,{"x":"é\\"","z":1}]},"b":1}',
    );
    expect(canonicalJson([undefined, 1])).toBe('[null,1]');
  });

  it('the same content in any key order hashes the same; any change changes the hash', () => {
    const f = {
      seq: 1,
      recordedAt: '2026-01-01T00:00:00.000Z',
      kind: 'k',
      patientId: 'p',
      tenant: null,
      actor: null,
      payload: { a: 1, b: 2 },
    };
    const g = { ...f, payload: { b: 2, a: 1 } };
    expect(chainHash(GENESIS_HASH, f)).toBe(chainHash(GENESIS_HASH, g));
    expect(chainHash(GENESIS_HASH, { ...f, payload: { a: 1, b: 3 } })).not.toBe(chainHash(GENESIS_HASH, f));
    expect(chainHash('1'.repeat(64), f)).not.toBe(chainHash(GENESIS_HASH, f));
  });

  it('a record serialised when queued hashes exactly as verification recomputes it', () => {
    const cases = [
      {
        patientId: 'p"1',
        tenant: undefined,
        actor: 'Practitioner/é',
        payload: { z: [1.5, { b: null, a: 'x\n' }], a: 1e21 },
      },
      { patientId: undefined, tenant: 't', actor: undefined, payload: { nested: { deeper: { k: '\u2028' } } } },
    ];
    let last: { seq: number; hash: string } | undefined;
    for (const c of cases) {
      const p = prepareEntry({ kind: 'hook-invocation', recordedAt: '2026-01-01T01:00:00+01:00', ...c });
      const at = place(p, last);
      const fields = {
        seq: at.seq,
        recordedAt: '2026-01-01T00:00:00.000Z',
        kind: 'hook-invocation',
        patientId: c.patientId ?? null,
        tenant: c.tenant ?? null,
        actor: c.actor ?? null,
        payload: JSON.parse(p.payloadJson),
      };
      expect(at.hash).toBe(chainHash(last?.hash ?? GENESIS_HASH, fields));
      last = at;
    }
  });
});
