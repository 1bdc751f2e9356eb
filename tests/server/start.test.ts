/**
 * `npm start` as a user runs it: the demo process starts, loads the cohort and serves /fhir and /livez on the
 * configured port, bound to loopback; a bad configuration stops it with a clear message.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';

const MAIN = fileURLToPath(new URL('../../src/main.ts', import.meta.url));
let child: ChildProcess | undefined;
afterEach(() => {
  child?.kill('SIGTERM');
  child = undefined;
});

function start(env: Record<string, string>): Promise<{ url?: string; code?: number; stderr: string }> {
  return new Promise((resolve) => {
    child = spawn(process.execPath, [MAIN], {
      env: { ...process.env, LOG_LEVEL: 'warn', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr!.on('data', (d) => {
      stderr += d;
    });
    child.stdout!.on('data', (d) => {
      const m = /FHIR server at (http:\/\/[^ ]+)\/fhir/.exec(String(d));
      if (m) resolve({ url: m[1], stderr });
    });
    child.on('exit', (code) => resolve({ code: code ?? -1, stderr }));
  });
}

describe('npm start (the demo)', () => {
  it('serves the seeded FHIR server and health on loopback', async () => {
    const r = await start({ PORT: '0', OSTEOWATCH_COHORT_SIZE: '25', OSTEOWATCH_AS_OF: '2026-11-21' });
    expect(r.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect((await fetch(`${r.url}/livez`)).status).toBe(200);
    expect((await fetch(`${r.url}/readyz`)).status).toBe(200);
    const bundle = (await (await fetch(`${r.url}/fhir/Patient?_count=1`)).json()) as { total: number };
    expect(bundle.total).toBe(25);
  });

  it('refuses an invalid configuration with a message naming the variable', async () => {
    const r = await start({ PORT: 'eighty' });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('PORT');
  });
});
