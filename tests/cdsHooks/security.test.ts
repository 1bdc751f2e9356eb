/**
 * CDS client authentication (CDS Hooks 2.0 "Trusting CDS Clients",
 * https://cds-hooks.hl7.org/2.0/#trusting-cds-clients) and CORS, over HTTP.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { type CryptoKey, decodeProtectedHeader, exportJWK, generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ReplayCache, verifyCdsClient } from '../../src/auth/cdsJwt.ts';
import { parseTrustedClients } from '../../src/auth/trustedClients.ts';
import { createLogger } from '../../src/log/logger.ts';
import {
  type CdsHarness,
  SANDBOX_ISS,
  SANDBOX_JKU,
  SANDBOX_KID,
  signSandboxJwt,
  startCdsHarness,
} from '../helpers/cdsSandbox.ts';
import { daily, fullPrefetch, myositisPatient } from '../helpers/patients.ts';

let h: CdsHarness;
/** What the service logged, one JSON record a line. */
const logged: string[] = [];
const sink = new Writable({
  write(chunk, _enc, done) {
    logged.push(...String(chunk).split('\n').filter(Boolean));
    done();
  },
});
beforeAll(async () => {
  h = await startCdsHarness({ now: '2026-06-01T10:00:00Z', logger: createLogger('info', sink) });
});
afterAll(() => h.close());

const body = () => {
  const rs = [...myositisPatient('s1'), daily('s1', 1, 20, '2026-05-01')];
  return {
    hook: 'patient-view',
    hookInstance: randomUUID(),
    context: { userId: 'Practitioner/x', patientId: 's1' },
    prefetch: fullPrefetch(rs, 's1'),
  };
};
const svc = () => `${h.base}/cds-services/osteonecrosis-screening`;
const post = async (token: string | undefined) =>
  fetch(svc(), {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body()),
  });

describe('discovery and CORS', () => {
  it('lists the three services with their prefetch templates, to an authenticated client', async () => {
    const url = `${h.base}/cds-services`;
    const r = await fetch(url, { headers: { authorization: `Bearer ${await h.sign(url)}` } });
    expect(r.status).toBe(200);
    const { services } = (await r.json()) as {
      services: Array<{
        id: string;
        hook: string;
        prefetch: Record<string, string>;
        description: string;
        title: string;
        usageRequirements: string;
      }>;
    };
    expect(services.map((s) => [s.id, s.hook])).toEqual([
      ['glucocorticoid-order-select', 'order-select'],
      ['glucocorticoid-order-sign', 'order-sign'],
      ['osteonecrosis-screening', 'patient-view'],
    ]);
    for (const s of services) {
      expect(s.title && s.description && s.usageRequirements).toBeTruthy();
      expect(Object.keys(s.prefetch)).toEqual([
        'patient',
        'conditions',
        'medicationStatements',
        'medicationRequests',
        'medicationAdministrations',
        'imagingStudies',
        'diagnosticReports',
        'serviceRequests',
        'osteonecrosisObservations',
      ]);
      for (const t of Object.values(s.prefetch)) expect(t).not.toMatch(/_include|_revinclude|[?&][a-z_-]+:(?!in=)/);
    }
  });

  it('answers the CORS preflight without a token, and puts CORS headers on every answer', async () => {
    const pre = await fetch(svc(), {
      method: 'OPTIONS',
      headers: {
        origin: 'https://sandbox.cds-hooks.org',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization,content-type',
      },
    });
    expect(pre.status).toBe(204);
    // Bearer-JWT clients need no credentials: any origin, never credentials unless configured.
    expect(pre.headers.get('access-control-allow-origin')).toBe('*');
    expect(pre.headers.get('access-control-allow-credentials')).toBeNull();
    expect(pre.headers.get('access-control-allow-headers')).toContain('Authorization');
    const denied = await fetch(`${h.base}/cds-services`, { headers: { origin: 'https://sandbox.cds-hooks.org' } });
    expect(denied.status).toBe(401);
    expect(denied.headers.get('access-control-allow-origin')).toBe('*');
  });
});

describe('client JWT', () => {
  it('a valid ES384 JWT with kid, aud = the exact URL and a fresh jti is accepted', async () => {
    expect((await post(await h.sign(svc()))).status).toBe(200);
  });

  it.each([
    ['no token', async () => undefined, /^No client JWT/],
    [
      'HS256 (symmetric)',
      async () =>
        new SignJWT({})
          .setProtectedHeader({ alg: 'HS256', kid: 'sandbox-kid' })
          .setIssuer(SANDBOX_ISS)
          .setAudience(svc())
          .setIssuedAt()
          .setExpirationTime('5m')
          .setJti(randomUUID())
          .sign(new TextEncoder().encode('a-shared-secret-of-enough-length!')),
      /^JWT alg HS256 is not accepted/,
    ],
    ['no kid', async () => h.sign(svc(), { kid: null }), /^JWT header has no kid$/],
    [
      'an issuer not on the allow-list',
      async () => h.sign(svc(), { iss: 'https://evil.example' }),
      /^JWT iss https:\/\/evil\.example is not a trusted CDS client$/,
    ],
    ['aud with a trailing slash', async () => h.sign(`${svc()}/`), /^JWT aud \S+screening\/ does not match /],
    ['aud of the discovery endpoint', async () => h.sign(`${h.base}/cds-services`), /^JWT aud \S+ does not match /],
    ['an expired token', async () => h.sign(svc(), { exp: '-2m' }), /^JWT expired at \d{4}-/],
    [
      'a key the issuer does not have',
      async () => h.sign(svc(), { key: (await generateKeyPair('ES384')).privateKey as never }),
      /^JWT signature does not verify/,
    ],
  ])('%s → 401 with an OperationOutcome naming the reason', async (_name, make, reason) => {
    const token = await make();
    const r = await post(token);
    expect(r.status).toBe(401);
    expect(r.headers.get('content-type')).toMatch(/^application\/json/);
    expect(r.headers.get('www-authenticate')).toBe(token ? 'Bearer error="invalid_token"' : 'Bearer');
    const outcome = (await r.json()) as {
      resourceType: string;
      issue: Array<{ code: string; details: { text: string } }>;
    };
    expect(outcome.resourceType).toBe('OperationOutcome');
    expect(outcome.issue[0]!.code).toBe('login');
    expect(outcome.issue[0]!.details.text).toMatch(reason);
  });

  it('a call by another host name than the service knows: the 401 and a warn log line say why', async () => {
    // The demo prints http://127.0.0.1:8080; the Sandbox opened at localhost:8080 signs aud = localhost.
    const url = `${h.base}/cds-services`;
    const asLocalhost = url.replace('127.0.0.1', 'localhost');
    const token = await h.sign(asLocalhost);
    logged.length = 0;
    const r = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
    expect(r.status).toBe(401);
    const outcome = (await r.json()) as { issue: Array<{ severity: string; details: { text: string } }> };
    const reason = `JWT aud ${asLocalhost} does not match ${url}: aud must be the exact URL called`;
    expect(outcome.issue).toEqual([expect.objectContaining({ severity: 'error', details: { text: reason } })]);
    const records = logged.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(records.filter((x) => x.msg === 'CDS client refused (401)')).toEqual([
      expect.objectContaining({ level: 40, reason, iss: SANDBOX_ISS, path: '/cds-services' }),
    ]);
    // Never the token, nor any part of it.
    const signature = token.split('.')[2]!;
    expect(logged.join('\n')).not.toContain(signature);
    expect(logged.join('\n')).not.toContain(token.split('.')[1]!);
  });

  it('a replayed jti is refused', async () => {
    const token = await h.sign(svc());
    expect((await post(token)).status).toBe(200);
    const again = await post(token);
    expect(again.status).toBe(401);
    expect(((await again.json()) as { issue: Array<{ details: { text: string } }> }).issue[0]!.details.text).toBe(
      'JWT jti was already used: a token is accepted once',
    );
  });
});

/**
 * A loopback JWK Set server that counts what it is asked: `/jwks.json` serves the registered client's keys,
 * `/attacker.json` an attacker's key under the same kid. Proves which URLs the service fetches (none, or only
 * the registered one).
 */
async function jwksServer(sets: Record<string, object>) {
  const hits: string[] = [];
  const server: Server = createServer((req, res) => {
    hits.push(req.url ?? '');
    const set = sets[req.url ?? ''];
    res.writeHead(set ? 200 : 404, { 'content-type': 'application/json' }).end(set ? JSON.stringify(set) : '');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { base, hits, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

const ecKey = async (kid: string) => {
  const { privateKey, publicKey } = await generateKeyPair('ES384');
  return { privateKey: privateKey as CryptoKey, jwk: { ...(await exportJWK(publicKey)), kid, alg: 'ES384' } };
};

describe('jku: fetched only when it is the registered jwksUrl', () => {
  it("the Sandbox's own token, jku and all, is accepted by a service that trusts its keys inline", async () => {
    const token = await h.sign(svc());
    expect(decodeProtectedHeader(token)).toEqual({ alg: 'ES384', typ: 'JWT', kid: SANDBOX_KID, jku: SANDBOX_JKU });
    expect((await post(token)).status).toBe(200);
  });

  it('inline keys: a jku is never fetched, whatever it names and whoever signed', async () => {
    const attacker = await ecKey(SANDBOX_KID);
    const jwks = await jwksServer({ '/attacker.json': { keys: [attacker.jwk] } });
    try {
      const jku = `${jwks.base}/attacker.json`;
      // Signed with the pinned key: the jku is no reason to refuse.
      expect((await post(await h.sign(svc(), { jku }))).status).toBe(200);
      // Signed with the key the jku serves: refused, because only the pinned keys count.
      expect((await post(await h.sign(svc(), { jku, key: attacker.privateKey }))).status).toBe(401);
      expect(jwks.hits).toEqual([]);
    } finally {
      await jwks.close();
    }
  });

  describe('a client registered by jwksUrl', () => {
    const aud = 'https://cds.example/cds-services/osteonecrosis-screening';
    const iss = 'https://ehr.example';
    let jwks: Awaited<ReturnType<typeof jwksServer>>;
    let client: Awaited<ReturnType<typeof ecKey>>;
    let attacker: Awaited<ReturnType<typeof ecKey>>;
    beforeAll(async () => {
      client = await ecKey('ehr-1');
      attacker = await ecKey('ehr-1');
      jwks = await jwksServer({ '/jwks.json': { keys: [client.jwk] }, '/attacker.json': { keys: [attacker.jwk] } });
    });
    afterAll(() => jwks.close());
    const verify = async (key: CryptoKey, jku: string | null) =>
      verifyCdsClient(
        `Bearer ${await signSandboxJwt(key, aud, { iss, kid: 'ehr-1', jku })}`,
        aud,
        // A fresh client each time: the remote JWK Set is not cached across cases.
        {
          trustedClients: parseTrustedClients([{ iss, jwksUrl: `${jwks.base}/jwks.json` }]),
          replay: new ReplayCache(),
        },
      );

    it('a jku other than the registered jwksUrl is refused, and nothing is fetched', async () => {
      jwks.hits.length = 0;
      expect(await verify(attacker.privateKey, `${jwks.base}/attacker.json`)).toBeUndefined();
      expect(await verify(client.privateKey, `${jwks.base}/attacker.json`)).toBeUndefined();
      expect(await verify(client.privateKey, `${jwks.base}/jwks.json?x=1`)).toBeUndefined();
      expect(await verify(client.privateKey, 'https://evil.example/jwks.json')).toBeUndefined();
      expect(jwks.hits).toEqual([]);
    });

    it('the registered jku is fetched and the token accepted; without a jku the registered set is used', async () => {
      jwks.hits.length = 0;
      expect(await verify(client.privateKey, `${jwks.base}/jwks.json`)).toEqual({ iss, tenant: undefined });
      expect(await verify(client.privateKey, null)).toEqual({ iss, tenant: undefined });
      expect(await verify(attacker.privateKey, `${jwks.base}/jwks.json`)).toBeUndefined();
      expect(jwks.hits.length).toBeGreaterThan(0);
      expect(new Set(jwks.hits)).toEqual(new Set(['/jwks.json']));
    });
  });
});

describe('bad requests never crash the service', () => {
  const raw = async (text: string, type = 'application/json') =>
    fetch(svc(), {
      method: 'POST',
      headers: { 'content-type': type, authorization: `Bearer ${await h.sign(svc())}` },
      body: text,
    });

  it('malformed JSON: 400 with an OperationOutcome', async () => {
    const r = await raw('{"hook": "patient-view",');
    expect(r.status).toBe(400);
    expect(((await r.json()) as { resourceType: string }).resourceType).toBe('OperationOutcome');
  });

  it('an unauthenticated caller learns why it is refused, and nothing of its body, not even that its JSON is malformed', async () => {
    const r = await fetch(svc(), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"hook": ',
    });
    expect(r.status).toBe(401);
    const text = await r.text();
    expect((JSON.parse(text) as { issue: Array<{ details: { text: string } }> }).issue[0]!.details.text).toMatch(
      /^No client JWT/,
    );
    expect(text).not.toMatch(/JSON|hook/);
  });

  it('schema violations name the field', async () => {
    const r = await h.call('osteonecrosis-screening', {
      hook: 'patient-view',
      hookInstance: randomUUID(),
      context: { userId: 'Practitioner/x' },
    });
    expect(r.status).toBe(400);
    expect(r.body.issue[0].details.text).toContain('context.patientId');
    const auth = await h.call('osteonecrosis-screening', {
      ...body(),
      fhirAuthorization: { access_token: 't', token_type: 'Bearer' },
    });
    expect(auth.status).toBe(400);
    expect(auth.body.issue[0].details.text).toContain('cds-r-1');
  });

  it('the wrong hook for a service, an unknown service, order-sign without draftOrders', async () => {
    expect((await h.call('osteonecrosis-screening', { ...body(), hook: 'order-sign' })).status).toBe(400);
    expect((await h.call('no-such-service', body())).status).toBe(404);
    expect((await h.call('glucocorticoid-order-sign', { ...body(), hook: 'order-sign' })).status).toBe(400);
  });

  it('bodies of 6 MB are accepted', async () => {
    const big = body() as Record<string, unknown>;
    big.extension = { 'org.example.padding': 'x'.repeat(6 * 1024 * 1024) };
    const r = await h.call('osteonecrosis-screening', big);
    expect(r.status).toBe(200);
  });

  it('junk in prefetch values is handled, not thrown', async () => {
    const b = body();
    (b.prefetch as Record<string, unknown>).medicationStatements = '<html>502 Bad Gateway</html>';
    const r = await h.call('osteonecrosis-screening', b);
    expect(r.status).toBe(412);
    expect((await h.call('osteonecrosis-screening', body())).status).toBe(200);
  });
});

describe('RS384 clients', () => {
  it('a trusted RS384 client is accepted; an RS256 token from the same client is not', async () => {
    const { exportJWK: exp, generateKeyPair: gen, SignJWT: Sign } = await import('jose');
    const { parseTrustedClients } = await import('../../src/auth/trustedClients.ts');
    const { verifyCdsClient, ReplayCache } = await import('../../src/auth/cdsJwt.ts');
    const rs384 = await gen('RS384');
    const rs256 = await gen('RS256');
    const keys = [
      { ...(await exp(rs384.publicKey)), kid: 'rsa-384', alg: 'RS384' },
      { ...(await exp(rs256.publicKey)), kid: 'rsa-256', alg: 'RS256' },
    ];
    const clients = parseTrustedClients([{ iss: 'https://ehr.example', jwks: { keys } }]);
    const aud = 'https://cds.example/cds-services/osteonecrosis-screening';
    const token = (alg: string, kid: string, key: CryptoKey) =>
      new Sign({})
        .setProtectedHeader({ alg, kid, typ: 'JWT' })
        .setIssuer('https://ehr.example')
        .setAudience(aud)
        .setIssuedAt()
        .setExpirationTime('5m')
        .setJti(randomUUID())
        .sign(key);
    const o = { trustedClients: clients, replay: new ReplayCache() };
    expect(await verifyCdsClient(`Bearer ${await token('RS384', 'rsa-384', rs384.privateKey)}`, aud, o)).toEqual({
      iss: 'https://ehr.example',
      tenant: undefined,
    });
    expect(
      await verifyCdsClient(`Bearer ${await token('RS256', 'rsa-256', rs256.privateKey)}`, aud, o),
    ).toBeUndefined();
  });
});
