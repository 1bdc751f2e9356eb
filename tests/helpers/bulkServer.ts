/**
 * The demo's Bulk Data and SMART Backend Services side on an ephemeral loopback port, for the client tests:
 * oauthRoutes at /auth, fhirRoutes with bulk at /fhir (and a copy that answers 429 to eager polling at
 * /throttled/fhir), over a MemoryRepository seeded with the synthetic cohort, its myositis Group, and one
 * Medication resource referenced by a member's statement (the cohort codes its medications inline).
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryRepository } from '@medplum/fhir-router';
import type { Resource } from '@medplum/fhirtypes';
import express from 'express';
import { exportJWK, generateKeyPair, type JWK } from 'jose';
import { afterAll, beforeAll } from 'vitest';
import { generateCohort } from '../../src/cohort/generate.ts';
import { createCohortGroup } from '../../src/demo/cohortGroup.ts';
import {
  ensureSurveillanceClientKey,
  type SurveillanceClientKey,
  surveillanceClientRegistration,
} from '../../src/demo/surveillanceClient.ts';
import { loadFhirDefinitions } from '../../src/fhir/definitions.ts';
import { backendServicesAuth, type FhirAuth } from '../../src/fhir/fhirAuth.ts';
import { fhirRoutes } from '../../src/server/fhirRoutes.ts';
import { AccessTokens, oauthRoutes, type RegisteredClient, tokenUrl } from '../../src/server/oauthRoutes.ts';
import { outcomeErrors } from '../../src/server/outcome.ts';

export interface Keys {
  privateJwk: JWK;
  publicJwk: JWK;
}

export async function keyPair(alg: 'ES384' | 'RS384'): Promise<Keys> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const kid = randomUUID();
  return {
    privateJwk: { ...(await exportJWK(privateKey)), kid, alg },
    publicJwk: { ...(await exportJWK(publicKey)), kid, alg },
  };
}

export interface BulkServer {
  base: string;
  fhir: string;
  repo: MemoryRepository;
  /** What the repository was seeded with. */
  resources: Resource[];
  /** The cohort Group's patient ids. */
  members: Set<string>;
  tokens: AccessTokens;
  /** Registered as es-client (system/*.rs), rs-client (system/*.read), patients-only (system/Patient.rs). */
  es: Keys;
  rs: Keys;
  other: Keys;
  surveillance: SurveillanceClientKey;
  dataDir: string;
  /** SMART Backend Services to /fhir as a registered client: its id, its keys, the scope it asks (and a fetch). */
  authFor: (clientId: string, k: Keys, scope?: string, f?: typeof fetch) => FhirAuth;
  close: () => Promise<void>;
}

export async function startBulkServer(): Promise<BulkServer> {
  loadFhirDefinitions();
  const [es, rs, other] = await Promise.all([keyPair('ES384'), keyPair('RS384'), keyPair('ES384')]);
  const dataDir = mkdtempSync(join(tmpdir(), 'osteowatch-bulk-'));
  const surveillance = await ensureSurveillanceClientKey(dataDir);
  const repo = new MemoryRepository();
  const resources = generateCohort({ size: 20, seed: 7, asOf: '2026-06-30' });
  for (const r of resources) await repo.createResource(r);
  const group = await createCohortGroup(repo);
  const members = new Set(group.member!.map((m) => m.entity.reference!.slice('Patient/'.length)));
  const extra: Resource[] = [
    { resourceType: 'Medication', id: 'med-referenced', code: { text: 'prednisolone 5 mg tablet' } },
    { resourceType: 'Medication', id: 'med-unreferenced', code: { text: 'prednisolone 1 mg tablet' } },
    {
      resourceType: 'MedicationStatement',
      id: 'ms-referencing',
      status: 'active',
      subject: { reference: `Patient/${[...members][0]}` },
      medicationReference: { reference: 'Medication/med-referenced' },
    },
  ];
  for (const r of extra) await repo.createResource(r);
  resources.push(...extra);
  const clients: RegisteredClient[] = [
    { clientId: 'es-client', jwks: { keys: [es.publicJwk] }, scope: 'system/*.rs' },
    { clientId: 'rs-client', jwks: { keys: [rs.publicJwk] }, scope: 'system/*.read' },
    { clientId: 'patients-only', jwks: { keys: [other.publicJwk] }, scope: 'system/Patient.rs' },
    surveillanceClientRegistration(surveillance),
  ];
  const tokens = new AccessTokens({ lifetimeSeconds: 120 });
  let base = '';
  const bulk = { tokens, tokenUrl: () => tokenUrl(base), minJobMs: 500, retryAfterSeconds: 2, resourcesPerFile: 50 };
  const app = express();
  app.use('/auth', oauthRoutes({ clients, publicUrl: () => base, tokens }));
  app.use('/fhir', fhirRoutes({ repo, bulk }));
  app.use('/throttled/fhir', fhirRoutes({ repo, bulk: { ...bulk, minPollIntervalMs: 300, retryAfterSeconds: 1 } }));
  app.use(outcomeErrors());
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const fhir = `${base}/fhir`;
  return {
    base,
    fhir,
    repo,
    resources,
    members,
    tokens,
    es,
    rs,
    other,
    surveillance,
    dataDir,
    authFor: (clientId, k, scope = 'system/*.rs', f) =>
      backendServicesAuth({ fhirBaseUrl: fhir, clientId, privateJwk: k.privateJwk, scope, fetch: f }),
    close: async () => {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** The bulk server of a test file: started before its tests, closed after them; its fields are there once they run. */
export function useBulkServer(): BulkServer {
  const srv = {} as BulkServer;
  beforeAll(async () => {
    Object.assign(srv, await startBulkServer());
  });
  afterAll(() => srv.close?.());
  return srv;
}

/** A sleep that records what was asked and waits at most 100 ms of it. */
export function recordingSleep() {
  const asked: number[] = [];
  return {
    asked,
    sleep: (ms: number) => {
      asked.push(ms);
      return new Promise<void>((r) => setTimeout(r, Math.min(ms, 100)));
    },
  };
}
