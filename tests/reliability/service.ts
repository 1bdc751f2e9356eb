/**
 * The real service (`node src/main.ts`, with `npm start`'s Node flags) as a child process, for the kill -9 tests and the endurance bench:
 * started on a data directory (and optionally a PostgreSQL database of its own), ready once it prints its
 * "FHIR server at …" line. The same helpers as audit.test.ts's, shared here so that they are not copied again.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import pg from 'pg';

export const MAIN = fileURLToPath(new URL('../../src/main.ts', import.meta.url));

/** The Node flags `npm start` runs the service with (package.json), so that a child runs as the service does. */
export const START_FLAGS: string[] = (
  JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')).scripts.start as string
)
  .split(/\s+/)
  .filter((w) => /^--[a-z-]+(=\S+)?$/.test(w));

export interface Running {
  child: ChildProcess;
  /** http://127.0.0.1:PORT */
  url: string;
  exited: Promise<number | null>;
}

/** Starts main.ts; `env` is added to (and overrides) the test's environment, DATABASE_URL is only `databaseUrl`. */
export function startService(
  dataDir: string,
  o: { databaseUrl?: string; env?: Record<string, string>; children?: ChildProcess[] } = {},
): Promise<Running> {
  return new Promise((resolve, reject) => {
    const { DATABASE_URL: _ignored, ...base } = process.env;
    const child = spawn(process.execPath, [...START_FLAGS, MAIN], {
      env: {
        ...base,
        LOG_LEVEL: 'warn',
        PORT: '0',
        OSTEOWATCH_COHORT_SIZE: '25',
        OSTEOWATCH_AS_OF: '2026-11-21',
        OSTEOWATCH_DATA_DIR: dataDir,
        ...(o.databaseUrl ? { DATABASE_URL: o.databaseUrl } : {}),
        ...o.env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    o.children?.push(child);
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    let stderr = '';
    child.stderr!.on('data', (d) => {
      stderr += d;
    });
    child.stdout!.on('data', (d) => {
      const m = /FHIR server at (http:\/\/[^ ]+)\/fhir/.exec(String(d));
      if (m) resolve({ child, url: m[1]!, exited });
    });
    child.once('exit', (code) => reject(new Error(`main.ts exited (${code}) before it was ready: ${stderr}`)));
  });
}

export async function stopGracefully(r: Running): Promise<number | null> {
  r.child.kill('SIGTERM');
  return r.exited;
}

/** A database of its own on the server `adminUrl` points to (main.ts uses the public schema); drop() removes it. */
export async function scratchDatabase(
  adminUrl: string,
  prefix = 'ow_rel_',
): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `${prefix}${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  const u = new URL(adminUrl);
  u.pathname = `/${name}`;
  return {
    url: u.toString(),
    drop: async () => {
      const a = new pg.Client({ connectionString: adminUrl });
      await a.connect();
      await a.query(`drop database if exists ${name} with (force)`);
      await a.end();
    },
  };
}
