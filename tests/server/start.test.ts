/**
 * `npm start` as a user runs it: the demo process starts, loads the cohort and serves /fhir and /livez on the
 * configured port, bound to loopback; a bad configuration stops it with a clear message.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { runOsteowatch } from '../helpers/cli.ts';

const MAIN = fileURLToPath(new URL('../../src/main.ts', import.meta.url));
const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) c.kill('SIGTERM');
});

function start(env: Record<string, string>): Promise<{ url?: string; code?: number; stderr: string }> {
  return new Promise((resolve) => {
    const { DATABASE_URL: _ignored, ...base } = process.env;
    const child = spawn(process.execPath, [MAIN], {
      env: { ...base, LOG_LEVEL: 'warn', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    let stderr = '';
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    child.stdout.on('data', (d) => {
      const m = /FHIR server at (http:\/\/[^ ]+)\/fhir/.exec(String(d));
      if (m) resolve({ url: m[1], stderr });
    });
    child.on('exit', (code) => resolve({ code: code ?? -1, stderr }));
  });
}

// Starting the demo opens its on-disk store and loads the FHIR definitions: slow on a busy machine.
describe('npm start (the demo)', { timeout: 120_000 }, () => {
  it('serves the seeded FHIR server, health and the audit API on loopback', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'osteowatch-start-'));
    const r = await start({
      PORT: '0',
      OSTEOWATCH_COHORT_SIZE: '25',
      OSTEOWATCH_AS_OF: '2026-11-21',
      OSTEOWATCH_DATA_DIR: dir,
    });
    expect(r.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect((await fetch(`${r.url}/livez`)).status).toBe(200);
    expect((await fetch(`${r.url}/readyz`)).status).toBe(200);
    const bundle = (await (await fetch(`${r.url}/fhir/Patient?_count=1`)).json()) as { total: number };
    expect(bundle.total).toBe(25);
    // The demo audit token is kept private in the data directory; the API refuses callers without it.
    const tokenFile = join(dir, 'audit-token');
    expect(statSync(tokenFile).mode & 0o077).toBe(0);
    expect((await fetch(`${r.url}/audit/verify`)).status).toBe(401);
    const token = readFileSync(tokenFile, 'utf8').trim();
    const verify = await fetch(`${r.url}/audit/verify`, { headers: { authorization: `Bearer ${token}` } });
    expect(await verify.json()).toMatchObject({ ok: true });
    // A newcomer's one-liner: a signed patient-view request from the demo client, cards printed.
    const hook = await runOsteowatch([
      'hook',
      'patient-view',
      '--patient',
      'ow-0002',
      '--url',
      r.url!,
      '--data-dir',
      dir,
    ]);
    expect(hook.stderr).toBe('');
    expect(hook.stdout).toMatch(/^\[(info|warning|critical)\] /m);
    // Prometheus metrics: the hook call by service and status, the audit queue, the process; no patient ids.
    let metrics = '';
    for (let i = 0; i < 50 && !/osteowatch_audit_hook_records_written_total [1-9]/.test(metrics); i++) {
      metrics = await (await fetch(`${r.url}/metrics`)).text();
      await new Promise((done) => setTimeout(done, 100));
    }
    expect(metrics).toMatch(
      /osteowatch_http_request_duration_seconds_count\{route="\/cds-services\/osteonecrosis-screening",method="POST",status="200"\} 1/,
    );
    expect(metrics).toMatch(/osteowatch_audit_hook_records_written_total [1-9]/);
    expect(metrics).toMatch(/osteowatch_audit_queue_depth 0/);
    expect(metrics).toMatch(/osteowatch_process_cpu_seconds_total/);
    expect(metrics).not.toContain('ow-0002');
    // A second process may not open the same embedded store.
    const second = await start({ PORT: '0', OSTEOWATCH_COHORT_SIZE: '1', OSTEOWATCH_DATA_DIR: dir });
    expect(second.code).toBe(1);
    expect(second.stderr).toMatch(/is in use by process \d+/);
  });

  it('refuses an invalid configuration with a message naming the variable', async () => {
    const r = await start({ PORT: 'eighty' });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('PORT');
  });
});
