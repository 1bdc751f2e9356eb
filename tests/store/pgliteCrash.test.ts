/**
 * The embedded store after a kill -9: PGlite runs inside the killed process, so its crash recovery runs at the
 * next start, and it empties unlogged tables. What a bulk run staged must still be there for the run to resume
 * from its last completed batch (on a PostgreSQL server the staging stays unlogged: its crashes are its own).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openStore } from '../../src/store/index.ts';

const dir = mkdtempSync(join(tmpdir(), 'ow-pglite-crash-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('embedded store, killed', () => {
  it('keeps the staged export through a kill -9', async () => {
    const child = spawnSync(process.execPath, [new URL('./fixtures/stageThenDie.ts', import.meta.url).pathname, dir], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(child.stdout).toBe('staged\n');
    expect(child.signal).toBe('SIGKILL');
    const store = await openStore({ dataDir: dir });
    try {
      const rows = await store.db.query<{ batch_no: number }>(
        `select batch_no from surveillance_staged where run_id = 'r1' order by batch_no`,
      );
      expect(rows.map((r) => r.batch_no)).toEqual([-1, 0]);
    } finally {
      await store.close();
    }
  }, 120_000);
});
