/**
 * Named prepared statements through the store layer: node-postgres names them itself, PGlite gets
 * PREPARE/EXECUTE with literal arguments — same results either way.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore, type Store } from '../../src/store/index.ts';
import { sqlLiteral } from '../../src/store/prepared.ts';
import { storeTargets } from '../helpers/store.ts';

describe('SQL literals for EXECUTE', () => {
  it('quotes text (doubling quotes only), writes numbers, booleans and NULL, refuses what it cannot write', () => {
    expect(sqlLiteral("O'Brien \\ x")).toBe("'O''Brien \\ x'");
    expect(sqlLiteral(null)).toBe('NULL');
    expect(sqlLiteral(undefined)).toBe('NULL');
    expect(sqlLiteral(-1.25)).toBe('-1.25');
    expect(sqlLiteral(true)).toBe('true');
    expect(() => sqlLiteral(Number.NaN)).toThrow(/NaN/);
    expect(() => sqlLiteral('a\u0000b')).toThrow(/NUL/);
    expect(() => sqlLiteral({})).toThrow(/object/);
  });
});

const targets = [
  ...storeTargets(),
  {
    name: 'PGlite on the main thread',
    open: async () => {
      const s = await openStore({ memory: true, inProcess: true });
      return { ...s, dispose: () => s.close() };
    },
  },
];

describe.each(targets)('prepared statements on $name', (target) => {
  let store: Store & { dispose: () => Promise<void> };
  beforeAll(async () => {
    store = await target.open();
  });
  afterAll(() => store.dispose());

  const sql = `select $1::jsonb -> 'k' as k, $2::int + 1 as n, $3::text as t`;

  it('gives the same rows as an unnamed statement, on every call, inside and outside transactions', async () => {
    const params = ['{"k":"it\'s"}', 41, null];
    const plain = await store.db.query(sql, params);
    expect(plain).toEqual([{ k: "it's", n: 42, t: null }]);
    expect(await store.db.query(sql, params, { prepare: 'ow_test_stmt' })).toEqual(plain);
    expect(await store.db.query(sql, params, { prepare: 'ow_test_stmt' })).toEqual(plain);
    await expect(
      store.db.transaction(async (tx) => {
        expect(await tx.query(sql, ['{"k":1}', 1, 'x'], { prepare: 'ow_test_stmt' })).toEqual([{ k: 1, n: 2, t: 'x' }]);
        throw new Error('roll back');
      }),
    ).rejects.toThrow('roll back');
    expect(await store.db.query(sql, params, { prepare: 'ow_test_stmt' })).toEqual(plain);
  });

  it('refuses a name that is not an identifier', async () => {
    if (store.db.kind === 'postgres') return; // node-postgres sends the name as protocol data, not SQL
    await expect(store.db.query('select 1', [], { prepare: 'x; drop table audit_log' })).rejects.toThrow(/invalid/);
  });
});
