/**
 * The service as the dashboard test needs it: a demo FHIR server with a generated cohort, a real Surveillance
 * (crawl mode, pg-boss on an in-memory PGlite store) reading it, and on one origin the built pages
 * (built by the test run's global setup, tests/setup/buildPages.ts; served by pageRoutes.ts with its
 * Content-Security-Policy) and /surveillance, composed as src/server/app.ts does.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { MemoryRepository } from '@medplum/fhir-router';
import express from 'express';
import { type AuditStore, openAuditStore } from '../../src/audit/store.ts';
import { generateCohort } from '../../src/cohort/generate.ts';
import { DEFAULT_EXPOSURE_CONFIG } from '../../src/exposure/index.ts';
import { loadFhirDefinitions } from '../../src/fhir/definitions.ts';
import { DEFAULT_FHIR_LIMITS } from '../../src/fhir/patientRecords.ts';
import { fhirRoutes } from '../../src/server/fhirRoutes.ts';
import { outcomeErrors } from '../../src/server/outcome.ts';
import { pageRoutes } from '../../src/server/pageRoutes.ts';
import { surveillanceRoutes } from '../../src/server/surveillanceRoutes.ts';
import { Surveillance } from '../../src/surveillance/service.ts';

export const AS_OF = '2026-03-01';

export interface DashboardServer {
  baseUrl: string;
  token: string;
  /** The Content-Security-Policy the page was served with. */
  csp: string;
  surveillance: Surveillance;
  /** Starts a run through the API and waits until it has ended; its id. */
  runAndWait: () => Promise<string>;
  close: () => Promise<void>;
}

const listen = (app: express.Express): Promise<Server> =>
  new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
const urlOf = (s: Server) => `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
const close = (s: Server | undefined) => new Promise<void>((resolve) => (s ? s.close(() => resolve()) : resolve()));

export async function startDashboardServer(o: { patients: number; seed?: number }): Promise<DashboardServer> {
  loadFhirDefinitions();
  const repo = new MemoryRepository();
  for (const r of generateCohort({ size: o.patients, seed: o.seed ?? 42, asOf: AS_OF })) await repo.createResource(r);
  const fhirApp = express();
  fhirApp.use('/fhir', fhirRoutes({ repo }));
  fhirApp.use(outcomeErrors());
  const fhirServer = await listen(fhirApp);
  const fhir = `${urlOf(fhirServer)}/fhir`;

  const store: AuditStore = await openAuditStore({ memory: true });
  const surveillance = new Surveillance({
    config: {
      mode: 'crawl',
      fhirBaseUrl: fhir,
      taskFhirUrl: fhir,
      timezone: 'UTC',
      batchSize: 10,
      heartbeatSeconds: 10,
      concurrency: 4,
      exportWaitSeconds: 60,
    },
    exposure: DEFAULT_EXPOSURE_CONFIG,
    db: store.db,
    audit: store.audit,
    defaultFhirBaseUrl: fhir,
    fhirLimits: { ...DEFAULT_FHIR_LIMITS, timeoutMs: 20_000 },
    work: true,
  });
  await surveillance.start();

  const token = 'dashboard-test-token-0123456789';
  const app = express();
  app.use(pageRoutes({ assess: { exposure: DEFAULT_EXPOSURE_CONFIG } }));
  app.use(
    '/surveillance',
    surveillanceRoutes({
      surveillance,
      auth: { staticToken: token, trustedClients: [], audience: 'unused', requiredScope: 'surveillance' },
      audit: store.audit,
    }),
  );
  app.use(outcomeErrors());
  const server = await listen(app);
  const baseUrl = urlOf(server);

  const csp = (await fetch(`${baseUrl}/dashboard/`)).headers.get('content-security-policy') ?? '';

  const runAndWait = async (): Promise<string> => {
    const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
    const res = await fetch(`${baseUrl}/surveillance/runs`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ asOf: AS_OF }),
    });
    if (res.status !== 202) throw new Error(`POST /surveillance/runs: ${res.status} ${await res.text()}`);
    const { runId } = (await res.json()) as { runId: string };
    const deadline = Date.now() + 180_000;
    while (Date.now() < deadline) {
      const r = (await (
        await fetch(`${baseUrl}/surveillance/runs/${encodeURIComponent(runId)}`, { headers })
      ).json()) as {
        status: string;
        error: string | null;
      };
      if (r.status === 'succeeded') return runId;
      if (r.status === 'failed') throw new Error(`surveillance run ${runId} failed: ${r.error}`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    throw new Error(`surveillance run ${runId} did not end in 3 minutes`);
  };

  return {
    baseUrl,
    token,
    csp,
    surveillance,
    runAndWait,
    close: async () => {
      await surveillance.stop();
      await close(server);
      await close(fhirServer);
      await store.close();
    },
  };
}
