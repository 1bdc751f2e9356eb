/**
 * A test CDS client that behaves like the CDS Hooks Sandbox: ES384 JWT with kid, jku-less, aud = the exact URL
 * called, a fresh jti per call; omits prefetch keys it could not satisfy.
 */
import { randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { MemoryRepository } from '@medplum/fhir-router';
import type { Resource } from '@medplum/fhirtypes';
import { type CryptoKey, exportJWK, generateKeyPair, type JWK, SignJWT } from 'jose';
import { HookAuditQueue } from '../../src/audit/queue.ts';
import { ReplayCache } from '../../src/auth/cdsJwt.ts';
import { parseTrustedClients } from '../../src/auth/trustedClients.ts';
import { loadServiceDeclarations } from '../../src/cdsHooks/declarations.ts';
import { resolveExposureConfig } from '../../src/exposure/index.ts';
import { loadFhirDefinitions } from '../../src/fhir/definitions.ts';
import { createApp } from '../../src/server/app.ts';
import { openStore, type Store } from '../../src/store/index.ts';

export const SANDBOX_ISS = 'https://sandbox.cds-hooks.org';

export interface CdsHarness {
  base: string;
  store: Store;
  repo: MemoryRepository;
  privateKey: CryptoKey;
  publicJwk: JWK;
  sign: (
    aud: string,
    opts?: {
      alg?: string;
      kid?: string | null;
      iss?: string;
      exp?: string;
      jti?: string;
      key?: CryptoKey;
      jku?: string;
    },
  ) => Promise<string>;
  call: (service: string, body: unknown, token?: string) => Promise<{ status: number; body: any; headers: Headers }>;
  /** Waits for the hook audit records written after each answer. */
  flushAudit: () => Promise<void>;
  close: () => Promise<void>;
}

export async function startCdsHarness(options: {
  now: string;
  resources?: Resource[];
  allowOpenFhirServer?: boolean;
  ingestToken?: string;
}): Promise<CdsHarness> {
  loadFhirDefinitions();
  const { privateKey, publicKey } = await generateKeyPair('ES384');
  const publicJwk = { ...(await exportJWK(publicKey)), kid: 'sandbox-kid', alg: 'ES384' };
  const store = await openStore({ memory: true });
  const repo = new MemoryRepository();
  for (const r of options.resources ?? []) await repo.createResource(r);
  let base = '';
  const auditQueue = new HookAuditQueue(store.audit);
  const app = createApp({
    repo,
    ...(options.ingestToken
      ? {
          imaging: {
            auth: {
              staticToken: options.ingestToken,
              trustedClients: [],
              audience: 'unused',
              requiredScope: 'imaging',
            },
            fhirBaseUrl: () => `${base}/fhir`,
            audit: store.audit,
            now: () => new Date(options.now),
          },
        }
      : {}),
    cds: {
      services: loadServiceDeclarations(),
      auth: {
        trustedClients: parseTrustedClients([{ iss: SANDBOX_ISS, jwks: { keys: [publicJwk] } }]),
        replay: new ReplayCache(),
      },
      audit: store.audit,
      deps: {
        exposure: resolveExposureConfig(),
        audit: auditQueue,
        publicUrl: () => base,
        allowOpenFhirServer: options.allowOpenFhirServer ?? false,
        now: () => new Date(options.now),
      },
    },
  });
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const sign: CdsHarness['sign'] = async (aud, o = {}) => {
    const header: Record<string, unknown> = { alg: o.alg ?? 'ES384', typ: 'JWT' };
    if (o.kid !== null) header.kid = o.kid ?? 'sandbox-kid';
    if (o.jku) header.jku = o.jku;
    return new SignJWT({})
      .setProtectedHeader(header as { alg: string })
      .setIssuer(o.iss ?? SANDBOX_ISS)
      .setAudience(aud)
      .setIssuedAt()
      .setExpirationTime(o.exp ?? '5m')
      .setJti(o.jti ?? randomUUID())
      .sign(o.key ?? (privateKey as CryptoKey));
  };
  const call: CdsHarness['call'] = async (service, body, token) => {
    const url = `${base}/cds-services/${service}`;
    const res = await fetch(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json',
        authorization: `Bearer ${token ?? (await sign(url))}`,
      },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined, headers: res.headers };
  };
  return {
    base,
    store,
    repo,
    privateKey: privateKey as CryptoKey,
    publicJwk,
    sign,
    call,
    flushAudit: () => auditQueue.flush(),
    close: async () => {
      await new Promise((r) => server.close(r));
      await auditQueue.flush();
      await store.close();
    },
  };
}

/** A searchset Bundle as a client would prefetch it. */
export const searchset = (resources: Resource[]) => ({
  resourceType: 'Bundle',
  type: 'searchset',
  total: resources.length,
  entry: resources.map((resource) => ({ resource })),
});
