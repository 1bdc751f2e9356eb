/**
 * A surveillance test bed: the real demo FHIR server (HTTP, loopback) seeded with the synthetic cohort, a real
 * store (PGlite, or PostgreSQL in its own schema when DATABASE_URL is set), and a Surveillance over both; and
 * /surveillance served over it, for the API, CLI and dashboard tests.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Resource } from '@medplum/fhirtypes';
import express from 'express';
import { afterAll, beforeAll } from 'vitest';
import type { AuditLog } from '../../src/audit/auditLog.ts';
import { type AuditStore, openAuditStore } from '../../src/audit/store.ts';
import { generateCohort } from '../../src/cohort/generate.ts';
import type { SurveillanceConfig } from '../../src/config/surveillance.ts';
import { COHORT_GROUP_ID, createCohortGroup } from '../../src/demo/cohortGroup.ts';
import {
  ensureSurveillanceClientKey,
  SURVEILLANCE_CLIENT_ID,
  SURVEILLANCE_SCOPE,
  surveillanceClientRegistration,
} from '../../src/demo/surveillanceClient.ts';
import { resolveExposureConfig } from '../../src/exposure/config.ts';
import { DEFAULT_FHIR_LIMITS } from '../../src/fhir/patientRecords.ts';
import type { WorklistItem } from '../../src/screening/worklist.ts';
import { AccessTokens, tokenUrl } from '../../src/server/oauthRoutes.ts';
import { outcomeErrors } from '../../src/server/outcome.ts';
import { surveillanceRoutes } from '../../src/server/surveillanceRoutes.ts';
import type { RunRow } from '../../src/surveillance/runStore.ts';
import { Surveillance, type SurveillanceOptions } from '../../src/surveillance/service.ts';
import { type RunningServer, startServer } from '../helpers/server.ts';

export const AS_OF = '2026-06-30';
export const NOW = new Date(`${AS_OF}T12:00:00Z`);

/** A store opened on one engine, and how to drop it. */
export interface EngineStore {
  store: AuditStore;
  databaseUrl?: string;
  jobSchema?: string;
  dispose(): Promise<void>;
}

export interface Engine {
  name: string;
  open(): Promise<EngineStore>;
}

export function engines(): Engine[] {
  const out: Engine[] = [
    {
      name: 'PGlite',
      open: async () => {
        const store = await openAuditStore({ memory: true });
        return { store, dispose: () => store.close() };
      },
    },
  ];
  const url = process.env.DATABASE_URL;
  if (url)
    out.push({
      name: 'PostgreSQL',
      open: async () => {
        const schema = `ow_surv_${randomBytes(5).toString('hex')}`;
        const store = await openAuditStore({ databaseUrl: url, schema });
        return {
          store,
          databaseUrl: url,
          jobSchema: `${schema}_jobs`,
          dispose: async () => {
            await store.db.exec(
              `drop schema if exists ${schema} cascade; drop schema if exists ${schema}_jobs cascade`,
            );
            await store.close();
          },
        };
      },
    });
  return out;
}

export function cohort(size: number, seed = 42, asOf = AS_OF): Resource[] {
  return generateCohort({ size, seed, asOf });
}

export async function demoServer(resources: Resource[]): Promise<RunningServer> {
  return startServer(resources);
}

/**
 * The demo server as `npm start` runs it for surveillance: the cohort Group, Bulk Data export and the SMART
 * Backend Services token endpoint with the surveillance client registered; and the options that make a
 * Surveillance read it as the demo does.
 */
export async function bulkDemoServer(
  resources: Resource[],
  /** Export jobs the server keeps at once (default 20), beyond which a kick-off is answered 429. */
  o: { maxJobs?: number } = {},
): Promise<{ server: RunningServer; surveillance: Partial<SurveillanceOptions> }> {
  const tokens = new AccessTokens();
  const dir = mkdtempSync(join(tmpdir(), 'ow-surv-'));
  const key = await ensureSurveillanceClientKey(dir);
  const server = await startServer(resources, {
    app: (base) => ({
      oauth: { clients: [surveillanceClientRegistration(key)], publicUrl: base, tokens },
      bulk: { tokens, tokenUrl: () => tokenUrl(base()), minJobMs: 300, ...o },
    }),
  });
  await createCohortGroup(server.repo);
  return {
    server,
    surveillance: {
      defaultGroupId: COHORT_GROUP_ID,
      defaultBackendServices: {
        clientId: SURVEILLANCE_CLIENT_ID,
        privateJwk: key.privateJwk,
        scope: SURVEILLANCE_SCOPE,
      },
    },
  };
}

export function surveillanceFor(
  server: RunningServer,
  db: { store: AuditStore; databaseUrl?: string; jobSchema?: string },
  config: Partial<SurveillanceConfig> = {},
  extra: Partial<SurveillanceOptions> = {},
): Surveillance {
  return new Surveillance({
    config: {
      mode: 'crawl',
      timezone: 'UTC',
      batchSize: 7,
      heartbeatSeconds: 10,
      concurrency: 4,
      // Patients evaluated in worker threads, as in production (evaluationPool.ts).
      workers: 2,
      exportWaitSeconds: 60,
      ...config,
    },
    exposure: resolveExposureConfig({}),
    db: db.store.db,
    databaseUrl: db.databaseUrl,
    jobSchema: db.jobSchema,
    audit: db.store.audit,
    defaultFhirBaseUrl: server.fhirUrl,
    // Generous: the machine running the tests may be busy, and a timeout here is not what is tested.
    fhirLimits: { ...DEFAULT_FHIR_LIMITS, maxPages: 1000, timeoutMs: 30_000 },
    now: () => NOW,
    ...extra,
  });
}

/**
 * A run on `asOf` that fails (as at an operator's word, or with its instance gone) right after writing the Task
 * that `failAfter` picks (given the entry and how many Tasks were written so far): the Tasks it wrote stay on the
 * server, its entries are not kept. Its id, once it has ended failed.
 */
export async function runFailingAfterTask(
  s: Surveillance,
  asOf: string,
  failAfter: (item: WorklistItem, written: number) => boolean,
): Promise<string> {
  const publisher = s.runner.d.tasks!;
  const publish = publisher.publish.bind(publisher);
  let runId: string | undefined;
  let written = 0;
  publisher.publish = async (item, day, reason) => {
    const ref = await publish(item, day, reason);
    if (runId && failAfter(item, ++written)) await s.store.fail(runId, 'failed by the test', new Date());
    return ref;
  };
  try {
    runId = await s.startRun('api', asOf);
    const run = await finished(s, runId);
    if (run.status !== 'failed') throw new Error(`run ${runId} ${run.status}, not failed`);
    return runId;
  } finally {
    publisher.publish = publish;
  }
}

/** Waits for the run to end (succeeded or failed). */
export async function finished(s: Surveillance, runId: string, timeoutMs = 120_000): Promise<RunRow> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const run = await s.run(runId);
    if (run && (run.status === 'succeeded' || run.status === 'failed')) return run;
    if (Date.now() > until) throw new Error(`run ${runId} still ${run?.status} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/**
 * The wall clock instead of NOW, for a Surveillance whose runs are each given their as-of day: with the clock
 * fixed, every run would start (and end) at the same instant.
 */
export const WALL_CLOCK: Partial<SurveillanceOptions> = { now: () => new Date() };

/** The demo server, a store and a started Surveillance over both. */
export interface TestBed {
  resources: Resource[];
  server: RunningServer;
  db: EngineStore;
  s: Surveillance;
  /** Stops the Surveillance, drops the store, closes the server. */
  close(): Promise<void>;
}

export interface TestBedOptions {
  resources: Resource[];
  /** The demo server as `npm start` runs it for bulk mode (bulkDemoServer); the plain demo server otherwise. */
  bulk?: boolean;
  /** The store's engine; PGlite in memory unless said. */
  engine?: Engine;
  config?: Partial<SurveillanceConfig>;
  extra?: Partial<SurveillanceOptions>;
}

/** Starts a test bed; what was started is closed again when a later step fails. */
export async function startTestBed(o: TestBedOptions): Promise<TestBed> {
  const bed: Partial<TestBed> = { resources: o.resources };
  const close = async () => {
    await bed.s?.stop();
    await bed.db?.dispose();
    await bed.server?.close();
  };
  try {
    const demo = o.bulk
      ? await bulkDemoServer(o.resources)
      : { server: await demoServer(o.resources), surveillance: {} };
    bed.server = demo.server;
    bed.db = await (o.engine ?? engines()[0]!).open();
    bed.s = surveillanceFor(bed.server, bed.db, o.config, { ...demo.surveillance, ...o.extra });
    await bed.s.start();
  } catch (err) {
    await close().catch(() => {});
    throw err;
  }
  return { ...(bed as Omit<TestBed, 'close'>), close };
}

/**
 * A suite's test bed: started before its tests (the options are read then), closed after them. Its fields are
 * there once the suite's tests run.
 */
export function useTestBed(options: () => TestBedOptions): TestBed {
  const bed = {} as TestBed;
  beforeAll(async () => {
    Object.assign(bed, await startTestBed(options()));
  }, 120_000);
  afterAll(async () => {
    await bed.close?.();
  }, 60_000);
  return bed;
}

/** /surveillance served on its own loopback port, as src/server/app.ts mounts it. */
export interface SurveillanceApi {
  url: string;
  close(): Promise<void>;
}

export async function serveSurveillance(
  surveillance: Surveillance,
  o: {
    /** The static bearer token the API accepts. */
    token: string;
    /** Where the auditor's "due on" queries are recorded. */
    audit?: AuditLog;
    /** Mounts what the app serves before /surveillance (the pages). */
    before?: (app: express.Express) => void;
  },
): Promise<SurveillanceApi> {
  const app = express();
  o.before?.(app);
  app.use(
    '/surveillance',
    surveillanceRoutes({
      surveillance,
      auth: { staticToken: o.token, trustedClients: [], audience: 'unused', requiredScope: 'surveillance' },
      audit: o.audit,
    }),
  );
  app.use(outcomeErrors());
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
