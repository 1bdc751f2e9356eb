/**
 * `osteowatch audit …` as an auditor runs it: against the embedded store directory, and against a running
 * service when that service holds the store.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryRepository } from '@medplum/fhir-router';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditService } from '../../src/audit/service.ts';
import { openAuditStore } from '../../src/audit/store.ts';
import { createApp } from '../../src/server/app.ts';
import { runOsteowatch } from '../helpers/cli.ts';

const dir = mkdtempSync(join(tmpdir(), 'osteowatch-audit-cli-'));
const env = { OSTEOWATCH_DATA_DIR: dir, DATABASE_URL: '' };
const card = randomUUID();

beforeAll(async () => {
  const store = await openAuditStore({ dataDir: dir });
  await store.audit.recordHookInvocation({
    recordedAt: '2026-02-01T09:00:00.000Z',
    service: 'osteonecrosis-screening',
    hook: 'patient-view',
    hookInstance: randomUUID(),
    patientId: 'p1',
    userRef: 'Practitioner/dr-2',
    cards: [{ uuid: card, indicator: 'warning', summary: 'WB-MRI screening due: 3,450 mg' }],
    exposure: {
      asOf: '2026-02-01',
      cumulativeMg: 3450,
      cumulativeIsLowerBound: false,
      currentDailyMg: 15,
      threshold: { mg: 3000, crossedOn: '2026-01-12' },
      contributions: [],
      issues: [],
    },
  });
  await store.audit.recordFeedback({
    recordedAt: '2026-02-01T09:02:00.000Z',
    service: 'osteonecrosis-screening',
    card,
    outcome: 'overridden',
    outcomeTimestamp: '2026-02-01T09:02:00.000Z',
    overrideReason: { reason: { code: 'declined', display: 'Patient declined' } },
  });
  await store.close();
}, 60_000);

describe('osteowatch audit (embedded store)', () => {
  it('verify: exit 0 when the chain holds', async () => {
    const r = await runOsteowatch(['audit', 'verify'], env);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/audit chain intact: 2 records verified/);
    expect(r.code).toBe(0);
  });

  it('patient ID --json: the hook invocations with card uuids, feedback and exposure snapshots', async () => {
    const r = await runOsteowatch(['audit', 'patient', 'p1', '--json'], env);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    const inv = out.invocations.items[0];
    expect(inv.cards[0].uuid).toBe(card);
    expect(inv.cards[0].feedback[0]).toMatchObject({
      outcome: 'overridden',
      overrideReason: { display: 'Patient declined' },
    });
    expect(inv.exposure.cumulativeMg).toBe(3450);
    expect(out.exposureByDate[0]).toMatchObject({ asOf: '2026-02-01', cumulativeMg: 3450 });
  });

  it('patient as a table and CSV', async () => {
    const t = await runOsteowatch(['audit', 'patient', 'p1'], env);
    expect(t.stdout).toContain('overridden (Patient declined)');
    const c = await runOsteowatch(['audit', 'patient', 'p1', '--csv'], env);
    expect(c.stdout).toBe(
      'asOf,cumulativeMg,lowerBound,currentDailyMg,crossedOn\r\n2026-02-01,3450,false,15,2026-01-12\r\n',
    );
  });

  it('crossings and cards', async () => {
    const x = await runOsteowatch(['audit', 'crossings', '--from', '2026-01-01', '--to', '2026-02-01'], env);
    expect(x.stdout).toContain('p1');
    expect(x.stdout).toContain('1 crossed ≥ 3000 mg in [2026-01-01, 2026-02-01); 0 imaged');
    const c = await runOsteowatch(['audit', 'cards', '--from', '2026-02-01', '--to', '2026-03-01', '--json'], env);
    expect(JSON.parse(c.stdout).byService[0]).toEqual({
      service: 'osteonecrosis-screening',
      shown: 1,
      accepted: 0,
      overridden: 1,
      noResponse: 0,
    });
  });

  it('bad arguments are explained', async () => {
    const r = await runOsteowatch(['audit', 'crossings', '--from', 'jan', '--to', '2026-02-01'], env);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--from must be a date YYYY-MM-DD');
  });

  it('the auditor queries were themselves recorded, and a tampered record is found', async () => {
    const store = await openAuditStore({ dataDir: dir });
    const queries = await store.db.query<{ actor: string }>(`select actor from audit_log where kind = 'audit-query'`);
    expect(queries.length).toBeGreaterThan(3);
    expect(queries[0]!.actor).toMatch(/^cli:/);
    await store.db.exec('alter table audit_log disable trigger audit_log_append_only');
    await store.db.query(`update audit_log set patient_id = 'someone-else' where seq = 2`);
    await store.close();
    const r = await runOsteowatch(['audit', 'verify'], env);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('audit chain BROKEN at record 2');
  });
});

describe('osteowatch audit --url (a running service holds the store)', () => {
  let server: Server;
  let url = '';
  const token = 'cli-remote-token-0123456789';
  let close: () => Promise<void>;
  beforeAll(async () => {
    const remoteDir = mkdtempSync(join(tmpdir(), 'osteowatch-audit-remote-'));
    const store = await openAuditStore({ dataDir: remoteDir });
    close = () => store.close();
    await store.audit.recordSurveillanceRun({ recordedAt: '2026-02-02T02:00:00.000Z', runId: 'r1', summary: {} });
    const app = createApp({
      repo: new MemoryRepository(),
      audit: {
        service: new AuditService(store, 3000),
        auth: { staticToken: token, trustedClients: [], audience: 'x', requiredScope: 'audit' },
      },
    });
    server = await new Promise((resolve) => {
      const s = app.listen(0, '127.0.0.1', () => resolve(s));
    });
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const locked = await runOsteowatch(['audit', 'verify'], { OSTEOWATCH_DATA_DIR: remoteDir, DATABASE_URL: '' });
    expect(locked.code).toBe(1);
    expect(locked.stderr).toMatch(/in use by process \d+; stop that process, or query the running service/);
  }, 60_000);
  afterAll(async () => {
    await new Promise((r) => server.close(r));
    await close();
  });

  it('answers through the API with the token', async () => {
    const r = await runOsteowatch(['audit', 'verify', '--url', url, '--token', token]);
    expect(r.stdout).toContain('audit chain intact: 1 records verified');
    expect(r.code).toBe(0);
    const e = await runOsteowatch(['audit', 'export', '--from', '2026-01-01', '--to', '2027-01-01', '--url', url], {
      OSTEOWATCH_AUDIT_TOKEN: token,
    });
    expect(JSON.parse(e.stdout).entry[0].resource.resourceType).toBe('AuditEvent');
  });

  it('a wrong token is a clear error', async () => {
    const r = await runOsteowatch(['audit', 'verify', '--url', url, '--token', 'nope-nope-nope-nope']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('refused the token (401)');
  });
});
