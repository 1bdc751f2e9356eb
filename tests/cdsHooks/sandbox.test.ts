/**
 * The CDS Hooks Sandbox (https://sandbox.cds-hooks.org) against the demo as a user starts it (`npm start`,
 * src/main.ts, with OSTEOWATCH_TRUSTED_CLIENTS): the requests are exactly the Sandbox's, browser CORS included
 * (tests/helpers/cdsSandbox.ts says where each comes from), and it is opened as the README says, with
 * ?fhirServiceUrl={demo}/fhir&serviceDiscoveryURL={demo}/cds-services&patientId=ow-0002. The trusted-clients
 * file holds a test key under the Sandbox's issuer and kid: the real private key is not in this repository.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Bundle, Condition } from '@medplum/fhirtypes';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ReplayCache, verifyCdsClient } from '../../src/auth/cdsJwt.ts';
import { loadTrustedClients, parseTrustedClients, TrustedClientsError } from '../../src/auth/trustedClients.ts';
import { readDemoClientKey, signClientJwt } from '../../src/cdsHooks/demoClient.ts';
import {
  cardsOf,
  createSandboxKey,
  type HookCall,
  preflightFailure,
  SANDBOX_ISS,
  SANDBOX_JKU,
  SANDBOX_KID,
  SANDBOX_ORIGIN,
  SandboxClient,
  type SandboxKey,
  sandboxDraft,
  sandboxTrustedClient,
  signSandboxJwt,
} from '../helpers/cdsSandbox.ts';

const MAIN = fileURLToPath(new URL('../../src/main.ts', import.meta.url));
const SHIPPED = fileURLToPath(new URL('../../cds-hooks/trusted-clients.sandbox.json', import.meta.url));
/** As published at https://sandbox.cds-hooks.org/.well-known/jwks.json (cds-hooks/sandbox @3b7e255). */
const PUBLISHED_JWKS = {
  keys: [
    {
      kty: 'EC',
      use: 'sig',
      crv: 'P-384',
      kid: '44823f3d-0b01-4a6c-a80e-b9d3e8a7226f',
      x: 'dw_JGR8nB2I6XveNxUOl2qk699ZPLM2nYI5STSdiEl9avAkrm3CkfYMbrrjr8laB',
      y: 'Sm3mLE-n1zYNla_aiE3cb3nZsL51RbC7ysw3q8aJLxGm-hx79RPMYpITDjp7kgzy',
      alg: 'ES384',
    },
  ],
};
/** A demo patient over the 3,000 mg threshold with no WB-MRI: cards on every hook. */
const PATIENT = 'ow-0002';

let child: ChildProcess | undefined;
let url = '';
let dataDir = '';
let key: SandboxKey;
let sandbox: SandboxClient;

// Opening the demo's on-disk store and loading the FHIR definitions take tens of seconds on a busy machine.
beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'osteowatch-sandbox-'));
  key = await createSandboxKey();
  const trusted = join(dataDir, 'trusted-clients.json');
  writeFileSync(trusted, JSON.stringify([sandboxTrustedClient(key)]));
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !k.startsWith('OSTEOWATCH_') && k !== 'DATABASE_URL'),
  );
  const c = spawn(process.execPath, [MAIN], {
    env: {
      ...env,
      LOG_LEVEL: 'warn',
      PORT: '0',
      OSTEOWATCH_COHORT_SIZE: '5',
      OSTEOWATCH_DATA_DIR: dataDir,
      OSTEOWATCH_TRUSTED_CLIENTS: trusted,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child = c;
  url = await new Promise<string>((resolve, reject) => {
    let stderr = '';
    c.stderr.on('data', (d) => {
      stderr += d;
    });
    c.stdout.on('data', (d) => {
      const m = /FHIR server at (http:\/\/[^ ]+)\/fhir/.exec(String(d));
      if (m) resolve(m[1]!);
    });
    c.on('exit', (code) => reject(new Error(`the demo exited (${code}): ${stderr}`)));
  });
  // Opened as https://sandbox.cds-hooks.org/?fhirServiceUrl={url}/fhir&serviceDiscoveryURL={url}/cds-services&patientId=ow-0002
  sandbox = new SandboxClient({
    discoveryUrl: `${url}/cds-services`,
    fhirServer: `${url}/fhir`,
    patientId: PATIENT,
    privateKey: key.privateKey,
  });
}, 180_000);

afterAll(async () => {
  if (!child || child.exitCode !== null) return;
  const exited = new Promise((resolve) => child!.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
});

describe('cds-hooks/trusted-clients.sandbox.json', () => {
  it("pins the Sandbox's published JWK Set for its issuer, says it is for development only, and loads", () => {
    const file = JSON.parse(readFileSync(SHIPPED, 'utf8')) as Array<Record<string, unknown>>;
    expect(file).toHaveLength(1);
    expect(file[0]).toMatchObject({ iss: SANDBOX_ISS, jwks: PUBLISHED_JWKS });
    expect(file[0]!.jwksUrl).toBeUndefined();
    expect(file[0]!.note).toMatch(/development only/i);
    expect(file[0]!.note).toMatch(/private key is public/i);
    const clients = loadTrustedClients(SHIPPED);
    expect(clients.map((c) => [c.iss, c.jwksUrl, c.uses])).toEqual([[SANDBOX_ISS, undefined, ['cds-hooks']]]);
    expect(() => parseTrustedClients([{ iss: 'x', jwks: { keys: [] }, note: 42 }])).toThrow(TrustedClientsError);
    // A misspelt field is refused rather than ignored: it could be a `uses` that was meant to narrow the trust.
    expect(() => parseTrustedClients([{ iss: 'x', jwks: { keys: [] }, usse: ['cds-hooks'] }])).toThrow(/usse/);
  });

  it("a token in the Sandbox's shape from any other key is refused", async () => {
    const aud = 'http://127.0.0.1:8080/cds-services';
    const token = await signSandboxJwt(key.privateKey, aud);
    const o = { trustedClients: loadTrustedClients(SHIPPED), replay: new ReplayCache() };
    expect(await verifyCdsClient(`Bearer ${token}`, aud, o)).toBeUndefined();
  });
});

describe('the Sandbox issuer is trusted for CDS calls only (its private key is public)', () => {
  it('a Sandbox-signed token with scope audit or imaging opens neither the audit API nor imaging ingest', async () => {
    for (const [path, scope] of [
      ['/audit/verify', 'audit'],
      ['/imaging/findings', 'imaging'],
    ] as const) {
      const iat = Math.round(Date.now() / 1000);
      const token = await new SignJWT({ scope, jti: randomUUID() })
        .setProtectedHeader({ alg: 'ES384', typ: 'JWT', kid: SANDBOX_KID })
        .setIssuer(SANDBOX_ISS)
        .setAudience(`${url}${path}`)
        .setIssuedAt(iat)
        .setExpirationTime(iat + 300)
        .sign(key.privateKey);
      const r = await fetch(`${url}${path}`, {
        method: path.startsWith('/audit') ? 'GET' : 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        ...(path.startsWith('/audit') ? {} : { body: '{}' }),
      });
      expect(r.status, path).toBe(401);
    }
  });
});

describe('the Sandbox against the demo', () => {
  const calls: Record<string, HookCall> = {};
  /** Where the patient-view call's exchanges start in the client's log. */
  let patientViewFrom = 0;

  it('launch: the FHIR server gives metadata, the patient and their Conditions to the Sandbox origin', async () => {
    const { patient, fhirVersion } = await sandbox.launch();
    expect(fhirVersion).toMatch(/^4\./);
    expect(patient.id).toBe(PATIENT);
    expect((sandbox.conditions as Bundle).resourceType).toBe('Bundle');
  });

  it("discovery with the Sandbox's JWT (jku included); the demo's own client is trusted alongside", async () => {
    const d = await sandbox.discover();
    expect(d.status).toBe(200);
    expect(d.services.map((s) => [s.id, s.hook])).toEqual([
      ['glucocorticoid-order-select', 'order-select'],
      ['glucocorticoid-order-sign', 'order-sign'],
      ['osteonecrosis-screening', 'patient-view'],
    ]);
    const sent = sandbox.exchanges.find((e) => e.kind === 'request' && e.url === `${url}/cds-services`)!;
    const [header, payload] = sent.requestHeaders
      .authorization!.slice('Bearer '.length)
      .split('.')
      .slice(0, 2)
      .map((p) => JSON.parse(Buffer.from(p, 'base64url').toString()));
    expect(header).toEqual({ alg: 'ES384', typ: 'JWT', kid: SANDBOX_KID, jku: SANDBOX_JKU });
    expect(Object.keys(payload)).toEqual(['iss', 'aud', 'exp', 'iat', 'jti']);
    expect(payload.aud).toBe(`${url}/cds-services`);
    // OSTEOWATCH_TRUSTED_CLIENTS adds to the demo's own client key (data directory); it does not replace it.
    const demoKey = readDemoClientKey(dataDir)!;
    const own = await fetch(`${url}/cds-services`, {
      headers: { authorization: `Bearer ${await signClientJwt(demoKey, `${url}/cds-services`)}` },
    });
    expect(own.status).toBe(200);
  });

  it('patient-view: a screening card', async () => {
    patientViewFrom = sandbox.exchanges.length;
    const c = await sandbox.patientView();
    calls['patient-view'] = c;
    expect(c.status).toBe(200);
    expect(c.request.context).toEqual({ patientId: PATIENT, userId: 'Practitioner/COREPRACTITIONER1' });
    expect(cardsOf(c).length).toBeGreaterThan(0);
    expect(cardsOf(c)[0]!.summary).toMatch(/WB-MRI|whole-body MRI/);
  });

  it('prefetch as the Sandbox gathers it: POST _search with a form body, every key filled, none null', async () => {
    const c = calls['patient-view']!;
    const templates = Object.values(sandbox.services.get(c.serviceUrl)!.prefetch!).map((t) =>
      t.replaceAll('{{context.patientId}}', PATIENT),
    );
    expect(Object.keys(c.request.prefetch ?? {}).sort()).toEqual(
      Object.keys(sandbox.services.get(c.serviceUrl)!.prefetch!).sort(),
    );
    for (const v of Object.values(c.request.prefetch ?? {})) expect(v).not.toBeNull();
    const fhir = sandbox.exchanges
      .slice(patientViewFrom)
      .filter((e) => e.kind === 'request' && e.url.startsWith(`${url}/fhir/`));
    const searches = fhir.filter((e) => e.url.endsWith('/_search'));
    expect(searches).toHaveLength(templates.filter((t) => t.includes('?')).length);
    for (const s of searches) {
      expect(s.requestHeaders['content-type']).toBe('application/x-www-form-urlencoded');
      expect(s.requestHeaders.accept).toBe('application/json+fhir');
      expect([s.url, s.status, s.blocked]).toEqual([s.url, 200, undefined]);
    }
    // Each query as the Sandbox sends it: parameters sorted by name, values form-encoded.
    for (const t of templates.filter((x) => x.includes('?'))) {
      const [type, query] = t.split('?') as [string, string];
      const sorted = [...new URLSearchParams(query)].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
      expect(searches.find((s) => s.url === `${url}/fhir/${type}/_search`)?.body).toBe(
        new URLSearchParams(sorted).toString(),
      );
    }
    // The reads, and no search fell back to GET.
    expect(fhir.filter((e) => e.method === 'GET').map((e) => e.url)).toEqual(
      templates.filter((t) => !t.includes('?')).map((t) => `${url}/fhir/${t}`),
    );
    const bundle = c.request.prefetch!.conditions as Bundle<Condition>;
    expect(bundle.entry!.every((e) => e.resource!.subject!.reference === `Patient/${PATIENT}`)).toBe(true);
  });

  it("order-select (Rx View) with the Sandbox's Prednisone draft: a card", async () => {
    const reason = (sandbox.conditions as Bundle<Condition> | undefined)?.entry?.[0]?.resource?.code;
    const c = await sandbox.orderSelect(sandboxDraft({ patientId: PATIENT, pills: 2, ...(reason ? { reason } : {}) }));
    calls['order-select'] = c;
    expect(c.status).toBe(200);
    expect(c.request.context.selections).toEqual(['MedicationRequest/request-123']);
    expect(c.request.context.draftOrders).not.toHaveProperty('type');
    expect(cardsOf(c).length).toBeGreaterThan(0);
  });

  it('order-sign (Rx Sign): a card with a one-click WB-MRI suggestion', async () => {
    const c = await sandbox.orderSign(sandboxDraft({ patientId: PATIENT, pills: 2 }));
    calls['order-sign'] = c;
    expect(c.status).toBe(200);
    expect(c.request.context).not.toHaveProperty('selections');
    const cards = cardsOf(c);
    expect(cards.length).toBeGreaterThan(0);
    expect(cards.some((card) => (card.suggestions ?? []).length > 0)).toBe(true);
  });

  it('feedback: an accepted suggestion and an overridden card with its override reason', async () => {
    const sign = calls['order-sign']!;
    const card = cardsOf(sign).find((k) => (k.suggestions ?? []).length > 0)!;
    const accepted = await sandbox.acceptSuggestion(sign.serviceUrl, card.uuid, card.suggestions![0]!.uuid);
    expect(accepted.status).toBe(200);
    const view = calls['patient-view']!;
    const viewCard = cardsOf(view)[0]!;
    const reason = viewCard.overrideReasons?.[0];
    const overridden = await sandbox.dismissCard(view.serviceUrl, viewCard.uuid, reason);
    expect(overridden.status).toBe(200);
    const sent = JSON.parse(sandbox.exchanges.at(-1)!.body!).feedback[0];
    expect(sent).toMatchObject({ card: viewCard.uuid, outcome: 'overridden' });
    // The Sandbox sends the chosen reason's code and system only.
    expect(sent.overrideReason).toEqual(
      reason ? { reason: { code: reason.code, ...(reason.system ? { system: reason.system } : {}) } } : undefined,
    );
  });

  it('CORS: every preflight the browser sent passed; /cds-services and /fhir answer preflights', async () => {
    const preflights = sandbox.exchanges.filter((e) => e.kind === 'preflight');
    expect(preflights.some((p) => p.url.startsWith(`${url}/cds-services`))).toBe(true);
    expect(preflights.filter((p) => p.blocked)).toEqual([]);
    expect(sandbox.exchanges.filter((e) => e.blocked).map((e) => `${e.method} ${e.url}: ${e.blocked}`)).toEqual([]);
    // What the browser sends before a call, and before a FHIR request that carries a token or a JSON body.
    for (const [target, method] of [
      [`${url}/cds-services`, 'GET'],
      [`${url}/cds-services/osteonecrosis-screening`, 'POST'],
      [`${url}/cds-services/osteonecrosis-screening/feedback`, 'POST'],
      [`${url}/fhir/Patient/${PATIENT}`, 'GET'],
      [`${url}/fhir/Condition/_search`, 'POST'],
    ] as const) {
      const res = await fetch(target, {
        method: 'OPTIONS',
        headers: {
          origin: SANDBOX_ORIGIN,
          'access-control-request-method': method,
          'access-control-request-headers': 'authorization,content-type',
        },
      });
      const failure = preflightFailure(res.status, res.headers, SANDBOX_ORIGIN, method, [
        'authorization',
        'content-type',
      ]);
      expect([target, failure]).toEqual([target, undefined]);
    }
  });
});
