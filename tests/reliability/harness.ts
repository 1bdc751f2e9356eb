/**
 * The real application in process, with the Sandbox's test client trusted and the FHIR limits a test chooses,
 * and FHIR servers on loopback that misbehave on purpose: one that accepts and never answers, one whose next
 * links never end, one scripted per request. Every server counts what it was asked and closes every socket.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { createServer as createTcpServer } from 'node:net';
import { MemoryRepository } from '@medplum/fhir-router';
import type { Resource } from '@medplum/fhirtypes';
import { HookAuditQueue } from '../../src/audit/queue.ts';
import { type AuditStore, openAuditStore } from '../../src/audit/store.ts';
import { ReplayCache } from '../../src/auth/cdsJwt.ts';
import { parseTrustedClients } from '../../src/auth/trustedClients.ts';
import { CDS_SERVICES } from '../../src/cdsHooks/services/index.ts';
import { resolveExposureConfig } from '../../src/exposure/index.ts';
import { loadFhirDefinitions } from '../../src/fhir/definitions.ts';
import type { FhirLimits } from '../../src/fhir/patientRecords.ts';
import { createApp } from '../../src/server/app.ts';
import { createSandboxKey, sandboxTrustedClient, signSandboxJwt } from '../helpers/cdsSandbox.ts';

export interface App {
  base: string;
  store: AuditStore;
  queue: HookAuditQueue;
  call: (service: string, body: unknown) => Promise<{ status: number; body: any; headers: Headers; ms: number }>;
  feedback: (service: string, body: unknown) => Promise<{ status: number; body: any }>;
  close: () => Promise<void>;
}

export async function startApp(
  o: { now?: string; fhirLimits?: FhirLimits; hookDeadlineMs?: number; resources?: Resource[] } = {},
): Promise<App> {
  loadFhirDefinitions();
  const key = await createSandboxKey();
  const store = await openAuditStore({ memory: true });
  const repo = new MemoryRepository();
  for (const r of o.resources ?? []) await repo.createResource(r);
  const queue = new HookAuditQueue(store.audit);
  let base = '';
  const app = createApp({
    repo,
    cds: {
      services: CDS_SERVICES,
      auth: { trustedClients: parseTrustedClients([sandboxTrustedClient(key)]), replay: new ReplayCache() },
      audit: store.audit,
      deps: {
        exposure: resolveExposureConfig(),
        audit: queue,
        publicUrl: () => base,
        allowOpenFhirServer: false,
        now: () => new Date(o.now ?? '2026-06-01T10:00:00Z'),
        fhirLimits: o.fhirLimits,
        hookDeadlineMs: o.hookDeadlineMs,
      },
    },
  });
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const post = async (url: string, body: unknown) => {
    const started = performance.now();
    const res = await fetch(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: `Bearer ${await signSandboxJwt(key.privateKey, url)}`,
      },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await res.text();
    return {
      status: res.status,
      body: text ? JSON.parse(text) : undefined,
      headers: res.headers,
      ms: performance.now() - started,
    };
  };
  return {
    base,
    store,
    queue,
    call: (service, body) => post(`${base}/cds-services/${service}`, body),
    feedback: (service, body) => post(`${base}/cds-services/${service}/feedback`, body),
    close: async () => {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
      await queue.flush();
      await store.close();
    },
  };
}

export interface FakeServer {
  fhir: string;
  requests: string[];
  close: () => Promise<void>;
}

/** Accepts connections and never answers a byte (until closed). */
export async function blackHole(): Promise<FakeServer> {
  const sockets = new Set<Socket>();
  const requests: string[] = [];
  const server = createTcpServer((s) => {
    sockets.add(s);
    requests.push('connection');
    s.on('error', () => undefined);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    fhir: `http://127.0.0.1:${(server.address() as AddressInfo).port}/fhir`,
    requests,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}

/** A FHIR server scripted by `answer` (path and query → status and JSON, possibly after a delay). */
export async function scripted(
  answer: (url: URL, fhir: string) => { status?: number; body: unknown; delayMs?: number },
): Promise<FakeServer & { inFlight: () => number; maxInFlight: () => number }> {
  const requests: string[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  let fhir = '';
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    requests.push(req.url ?? '');
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    const a = answer(new URL(req.url ?? '/', fhir), fhir);
    const send = () => {
      inFlight--;
      if (res.destroyed) return;
      res.writeHead(a.status ?? 200, { 'content-type': 'application/fhir+json' });
      res.end(JSON.stringify(a.body));
    };
    if (a.delayMs) setTimeout(send, a.delayMs).unref();
    else send();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  fhir = `http://127.0.0.1:${(server.address() as AddressInfo).port}/fhir`;
  return {
    fhir,
    requests,
    inFlight: () => inFlight,
    maxInFlight: () => maxInFlight,
    close: async () => {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

export const bundle = (resources: unknown[], next?: string) => ({
  resourceType: 'Bundle',
  type: 'searchset',
  ...(next ? { link: [{ relation: 'next', url: next }] } : {}),
  entry: resources.map((resource) => ({ resource })),
});

export const patientView = (patientId: string, extra: Record<string, unknown> = {}) => ({
  hook: 'patient-view',
  hookInstance: randomUUID(),
  context: { userId: 'Practitioner/x', patientId },
  ...extra,
});

/** A 2xx answer, or a 4xx/5xx one that is an OperationOutcome. */
export const isOutcome = (body: any) =>
  body?.resourceType === 'OperationOutcome' && Array.isArray(body.issue) && body.issue.length > 0;
