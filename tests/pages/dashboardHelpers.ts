/**
 * The service as the dashboard test needs it: a demo FHIR server with a generated cohort, a real Surveillance
 * (crawl mode, pg-boss on an in-memory PGlite store) reading it, and on one origin the built pages
 * (built by the test run's global setup, tests/setup/buildPages.ts; served by pageRoutes.ts with its
 * Content-Security-Policy) and /surveillance, composed as src/server/app.ts does.
 */
import { DEFAULT_EXPOSURE_CONFIG } from '../../src/exposure/index.ts';
import { pageRoutes } from '../../src/server/pageRoutes.ts';
import type { Surveillance } from '../../src/surveillance/service.ts';
import { cohort, serveSurveillance, startTestBed, WALL_CLOCK } from '../surveillance/harness.ts';

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

export async function startDashboardServer(o: { patients: number; seed?: number }): Promise<DashboardServer> {
  const bed = await startTestBed({
    resources: cohort(o.patients, o.seed ?? 42, AS_OF),
    config: { batchSize: 10 },
    extra: WALL_CLOCK,
  });
  const surveillance = bed.s;
  const token = 'dashboard-test-token-0123456789';
  const api = await serveSurveillance(surveillance, {
    token,
    audit: bed.db.store.audit,
    before: (app) => app.use(pageRoutes({ assess: { exposure: DEFAULT_EXPOSURE_CONFIG } })),
  });
  const baseUrl = api.url;

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
      await api.close();
      await bed.close();
    },
  };
}
