import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { MemoryRepository } from '@medplum/fhir-router';
import type { Resource } from '@medplum/fhirtypes';
import { loadFhirDefinitions } from '../../src/fhir/definitions.ts';
import { type AppOptions, createApp } from '../../src/server/app.ts';

export interface RunningServer {
  baseUrl: string;
  fhirUrl: string;
  repo: MemoryRepository;
  close: () => Promise<void>;
}

/** Starts the real application on an ephemeral loopback port with the given resources loaded. */
export async function startServer(
  resources: Resource[] = [],
  options: { maxPageSize?: number; app?: (baseUrl: () => string) => Partial<AppOptions> } = {},
): Promise<RunningServer> {
  loadFhirDefinitions();
  const repo = new MemoryRepository();
  for (const r of resources) await repo.createResource(r);
  let base = '';
  const app = createApp({ repo, maxPageSize: options.maxPageSize, ...options.app?.(() => base) });
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  const { port } = server.address() as AddressInfo;
  const baseUrl = `http://127.0.0.1:${port}`;
  base = baseUrl;
  return {
    baseUrl,
    fhirUrl: `${baseUrl}/fhir`,
    repo,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
