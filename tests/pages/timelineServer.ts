/**
 * The demo as the timeline app meets it, in process on a loopback port: the application (src/server/app.ts
 * createApp) with the FHIR server seeded and SMART-enabled (discovery, the Sandbox's launch endpoint), the SMART
 * authorization server (/auth), the CDS services trusting a stand-in for the CDS Hooks Sandbox and linking their
 * cards to the timeline (`timelineLaunchUrl`, as src/main.ts sets it), and the pages with their API.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { MemoryRepository } from '@medplum/fhir-router';
import type { Resource } from '@medplum/fhirtypes';
import express from 'express';
import { ReplayCache } from '../../src/auth/cdsJwt.ts';
import { parseTrustedClients } from '../../src/auth/trustedClients.ts';
import { CDS_SERVICES } from '../../src/cdsHooks/services/index.ts';
import { resolveExposureConfig } from '../../src/exposure/index.ts';
import { loadFhirDefinitions } from '../../src/fhir/definitions.ts';
import { createApp } from '../../src/server/app.ts';
import { AccessTokens, authorizeUrl, tokenUrl } from '../../src/server/oauthRoutes.ts';
import { pageRoutes } from '../../src/server/pageRoutes.ts';
import { LaunchContexts } from '../../src/server/smartLaunch.ts';
import { createSandboxKey, SandboxClient, sandboxTrustedClient } from '../helpers/cdsSandbox.ts';

export interface TimelineServer {
  base: string;
  fhir: string;
  repo: MemoryRepository;
  sandbox: (patientId: string) => SandboxClient;
  close: () => Promise<void>;
}

export async function startTimelineServer(resources: Resource[], now: Date): Promise<TimelineServer> {
  loadFhirDefinitions();
  const repo = new MemoryRepository();
  for (const r of resources) await repo.createResource(r);
  const key = await createSandboxKey();
  const exposure = resolveExposureConfig();
  const tokens = new AccessTokens();
  const launches = new LaunchContexts();
  let base = '';
  const app = createApp({
    repo,
    cds: {
      services: CDS_SERVICES,
      auth: { trustedClients: parseTrustedClients([sandboxTrustedClient(key)]), replay: new ReplayCache() },
      deps: {
        exposure,
        publicUrl: () => base,
        allowOpenFhirServer: true,
        now: () => now,
        timelineLaunchUrl: () => `${base}/app/launch`,
      },
    },
    oauth: { clients: [], publicUrl: () => base, tokens, smart: { repo, launches } },
    smart: { launches, authorizeUrl: () => authorizeUrl(base), tokenUrl: () => tokenUrl(base) },
  });
  // The pages in front of the application (pageRoutes lets through what is not a page).
  const outer = express();
  outer.disable('x-powered-by');
  outer.use(pageRoutes({ assess: { exposure, now: () => now } }));
  outer.use(app);
  const server: Server = await new Promise((resolve) => {
    const s = outer.listen(0, '127.0.0.1', () => resolve(s));
  });
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    base,
    fhir: `${base}/fhir`,
    repo,
    sandbox: (patientId) =>
      new SandboxClient({
        discoveryUrl: `${base}/cds-services`,
        fhirServer: `${base}/fhir`,
        patientId,
        privateKey: key.privateKey,
      }),
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
