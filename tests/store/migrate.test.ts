import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Store } from '../../src/store/index.ts';
import { loadMigrations, migrate, splitSql } from '../../src/store/migrate.ts';
import { storeTargets } from '../helpers/store.ts';

describe('SQL scripts', () => {
  it('split on top-level semicolons, keeping $$ bodies whole and dropping comments', () => {
    const parts = splitSql(
      `-- a comment;\ncreate table a (x int);\ncreate function f() returns trigger language plpgsql as $$\nbegin\n  raise exception 'no; never';\nend\n$$;\ninsert into a values (1);`,
    );
    expect(parts).toHaveLength(3);
    expect(parts[1]).toContain("raise exception 'no; never';");
  });

  it('migrations are numbered and in order', () => {
    const m = loadMigrations();
    expect(m.map((x) => x.version)).toEqual([...m.map((x) => x.version)].sort((a, b) => a - b));
    expect(m[0]).toMatchObject({ version: 1, name: 'audit' });
  });
});

describe.each(storeTargets())('migrations on $name', (target) => {
  let store: Store & { dispose: () => Promise<void> };
  beforeAll(async () => {
    store = await target.open();
  });
  afterAll(() => store.dispose());

  it('are applied once and recorded', async () => {
    expect(await migrate(store.db)).toEqual([]);
    const rows = await store.db.query<{ version: number; name: string }>(
      'select version, name from schema_migrations order by version',
    );
    expect(rows).toEqual(loadMigrations().map((m) => ({ version: m.version, name: m.name })));
  });

  it('a failing migration rolls back and leaves nothing behind', async () => {
    await expect(
      migrate(store.db, [
        { version: 999, name: 'broken', sql: 'create table t999 (x int);\nselect * from no_such_table;' },
      ]),
    ).rejects.toThrow(/no_such_table/);
    const t = await store.db.query(`select 1 from information_schema.tables where table_name = 't999'`);
    expect(t).toEqual([]);
    const v = await store.db.query('select 1 from schema_migrations where version = 999');
    expect(v).toEqual([]);
  });
});
