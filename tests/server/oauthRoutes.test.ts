/**
 * The demo's SMART Backend Services token endpoint (src/server/oauthRoutes.ts) and discovery document, with the
 * client side (src/fhir/fhirAuth.ts backendServicesAuth) over real HTTP: tokens for ES384 and RS384 assertions,
 * cached by the client, and every bad assertion refused as RFC 6749 §5.2 says.
 */
import { randomUUID } from 'node:crypto';
import { statSync } from 'node:fs';
import { importJWK, type JWK, SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import {
  ensureSurveillanceClientKey,
  SURVEILLANCE_CLIENT_ID,
  SURVEILLANCE_SCOPE,
  surveillanceClientFile,
} from '../../src/demo/surveillanceClient.ts';
import { OsteoWatchError } from '../../src/errors.ts';
import { backendServicesAuth } from '../../src/fhir/fhirAuth.ts';
import { AccessTokens, grantScopes, scopesAllowExport, tokenUrl } from '../../src/server/oauthRoutes.ts';
import { grantAppScopes, parseResourceScope } from '../../src/server/smartLaunch.ts';
import { useBulkServer } from '../helpers/bulkServer.ts';

const srv = useBulkServer();

describe('SMART Backend Services', () => {
  it('serves the SMART configuration under the FHIR base', async () => {
    const res = await fetch(`${srv.fhir}/.well-known/smart-configuration`);
    expect(res.status).toBe(200);
    const doc = (await res.json()) as Record<string, unknown>;
    expect(doc.token_endpoint).toBe(`${srv.base}/auth/token`);
    expect(doc.token_endpoint_auth_methods_supported).toEqual(['private_key_jwt']);
    expect(doc.token_endpoint_auth_signing_alg_values_supported).toEqual(['RS384', 'ES384']);
    expect(doc.grant_types_supported).toContain('client_credentials');
    expect(doc.capabilities).toContain('client-confidential-asymmetric');
    // REQUIRED in every SMART 2 configuration (conformance.html#metadata).
    expect(doc.code_challenge_methods_supported).toEqual(['S256']);
    // Without SMART App Launch options, no authorization endpoint is advertised.
    expect(doc.authorization_endpoint).toBeUndefined();
  });

  it('describes Group $export in the CapabilityStatement', async () => {
    const cs = (await (await fetch(`${srv.fhir}/metadata`)).json()) as {
      instantiates?: string[];
      rest: Array<{ resource: Array<{ type: string; operation?: Array<{ name: string; definition: string }> }> }>;
    };
    expect(cs.instantiates).toEqual(['http://hl7.org/fhir/uv/bulkdata/CapabilityStatement/bulk-data']);
    const group = cs.rest[0]!.resource.find((r) => r.type === 'Group')!;
    expect(group.operation).toEqual([
      { name: 'export', definition: 'http://hl7.org/fhir/uv/bulkdata/OperationDefinition/group-export' },
    ]);
  });

  it('issues a token for an ES384 and an RS384 assertion, cached until shortly before it expires', async () => {
    let calls = 0;
    // Starts a minute behind, so that after the jump below our assertions still look current to the server.
    let now = Date.now() - 60_000;
    const counting: typeof fetch = (input, init) => {
      if (String(input).endsWith('/auth/token')) calls++;
      return fetch(input, init);
    };
    const auth = backendServicesAuth({
      fhirBaseUrl: srv.fhir,
      clientId: 'es-client',
      privateJwk: srv.es.privateJwk,
      scope: 'system/*.rs',
      fetch: counting,
      now: () => now,
    });
    const [a, b] = await Promise.all([auth.header(), auth.header()]);
    expect(a).toMatch(/^Bearer [A-Za-z0-9_-]{20,}$/);
    expect(b).toBe(a);
    expect(await auth.header()).toBe(a);
    expect(calls).toBe(1);
    now += 100_000; // 120 s tokens are renewed 30 s before expiry
    const c = await auth.header();
    expect(c).not.toBe(a);
    expect(calls).toBe(2);
    expect(srv.tokens.verify(c)?.clientId).toBe('es-client');
    const rsAuth = srv.authFor('rs-client', srv.rs, 'system/*.read');
    expect(srv.tokens.verify(await rsAuth.header())).toMatchObject({
      clientId: 'rs-client',
      scopes: ['system/*.read'],
    });
  });

  it("authenticates the demo's own surveillance client with the key kept in the data directory", async () => {
    const again = await ensureSurveillanceClientKey(srv.dataDir);
    expect(again).toEqual(srv.surveillance);
    expect(statSync(surveillanceClientFile(srv.dataDir)).mode & 0o777).toBe(0o600);
    expect(srv.surveillance.privateJwk).toMatchObject({ alg: 'ES384', kid: srv.surveillance.publicJwk.kid });
    expect(srv.surveillance.publicJwk.d).toBeUndefined();
    const auth = backendServicesAuth({
      fhirBaseUrl: srv.fhir,
      clientId: SURVEILLANCE_CLIENT_ID,
      privateJwk: srv.surveillance.privateJwk,
      scope: SURVEILLANCE_SCOPE,
    });
    expect(srv.tokens.verify(await auth.header())).toMatchObject({ clientId: SURVEILLANCE_CLIENT_ID });
  });

  it('answers the token request per RFC 6749: bearer, expires_in, granted scope, no-store', async () => {
    const res = await postToken(await assertion({}), 'system/Patient.rs system/Observation.cruds launch');
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const body = (await res.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ token_type: 'bearer', expires_in: 120, scope: 'system/Patient.rs' });
  });

  it('refuses a token endpoint that is not https unless on loopback', async () => {
    const make = (tokenUrl: string) => () =>
      backendServicesAuth({
        fhirBaseUrl: srv.fhir,
        clientId: 'c',
        privateJwk: srv.es.privateJwk,
        scope: 's',
        tokenUrl,
      });
    expect(make('http://auth.example.org/token')).toThrow(/must be https/);
    expect(make('https://auth.example.org/token')).not.toThrow();
    expect(make(`${srv.base}/auth/token`)).not.toThrow();
    // Discovered: the server's smart-configuration names an http token endpoint elsewhere.
    const lying: typeof fetch = async () =>
      new Response(JSON.stringify({ token_endpoint: 'http://auth.example.org/token' }), { status: 200 });
    const err = await srv
      .authFor('es-client', srv.es, 'system/*.rs', lying)
      .header()
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OsteoWatchError);
    expect((err as OsteoWatchError).message).toMatch(/must be https/);
  });

  it('says clearly why a token was refused, without the assertion', async () => {
    const wrongKey = backendServicesAuth({
      fhirBaseUrl: srv.fhir,
      clientId: 'es-client',
      privateJwk: { ...srv.other.privateJwk, kid: srv.es.privateJwk.kid },
      scope: 'system/*.rs',
    });
    const err = (await wrongKey.header().catch((e: unknown) => e)) as OsteoWatchError;
    expect(err).toBeInstanceOf(OsteoWatchError);
    expect(err.kind).toBe('upstream');
    expect(err.message).toMatch(/refused client es-client: invalid_client/);
    expect(err.message).not.toMatch(/eyJ/);
  });
});

interface AssertionOptions {
  clientId?: string;
  key?: JWK;
  kid?: string;
  alg?: string;
  aud?: string;
  exp?: number;
  jti?: string;
  secret?: Uint8Array;
}

async function assertion(o: AssertionOptions): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const alg = o.alg ?? 'ES384';
  const key = o.secret ?? (await importJWK(o.key ?? srv.es.privateJwk, alg));
  return new SignJWT({})
    .setProtectedHeader({ alg, kid: o.kid ?? srv.es.privateJwk.kid!, typ: 'JWT' })
    .setIssuer(o.clientId ?? 'es-client')
    .setSubject(o.clientId ?? 'es-client')
    .setAudience(o.aud ?? tokenUrl(srv.base))
    .setIssuedAt(now)
    .setExpirationTime(o.exp ?? now + 240)
    .setJti(o.jti ?? randomUUID())
    .sign(key);
}

const postToken = (clientAssertion: string, scope = 'system/*.rs', extra: Record<string, string> = {}) =>
  fetch(`${srv.base}/auth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'client_credentials',
      scope,
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
      client_assertion: clientAssertion,
      ...extra,
    }),
  });

describe('the token endpoint refuses bad client assertions (RFC 6749 §5.2)', () => {
  const now = () => Math.floor(Date.now() / 1000);
  const cases: Array<[string, () => Promise<string>]> = [
    ['signed with the wrong key', () => assertion({ key: srv.other.privateJwk })],
    ['expired', () => assertion({ exp: now() - 120 })],
    ['living more than five minutes', () => assertion({ exp: now() + 900 })],
    ['for another audience', () => assertion({ aud: `${srv.base}/other/token` })],
    ['HS256', () => assertion({ alg: 'HS256', secret: new TextEncoder().encode('x'.repeat(64)) })],
    ['from an unknown client', () => assertion({ clientId: 'nobody' })],
    ['RS384-signed with an ES384 client key id', () => assertion({ alg: 'RS384', key: srv.rs.privateJwk })],
  ];
  for (const [name, make] of cases)
    it(`refuses an assertion ${name} with 401 invalid_client`, async () => {
      const res = await postToken(await make());
      expect(res.status).toBe(401);
      expect(res.headers.get('content-type')).toMatch(/application\/json/);
      expect(await res.json()).toMatchObject({ error: 'invalid_client' });
    });

  it('accepts a jti once', async () => {
    const a = await assertion({});
    expect((await postToken(a)).status).toBe(200);
    const again = await postToken(a);
    expect(again.status).toBe(401);
    expect(await again.json()).toMatchObject({ error: 'invalid_client', error_description: /jti/ });
  });

  it('refuses a bad grant, a missing assertion and an ungrantable scope with 400', async () => {
    const grant = await postToken(await assertion({}), 'system/*.rs', { grant_type: 'password' });
    expect(grant.status).toBe(400);
    expect(await grant.json()).toMatchObject({ error: 'unsupported_grant_type' });
    const missing = await postToken('', 'system/*.rs');
    expect(missing.status).toBe(400);
    expect(await missing.json()).toMatchObject({ error: 'invalid_request' });
    const twice = await fetch(`${srv.base}/auth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'grant_type=client_credentials&scope=a&scope=b',
    });
    expect(twice.status).toBe(400);
    expect(await twice.json()).toMatchObject({ error: 'invalid_request' });
    const json = await fetch(`${srv.base}/auth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ grant_type: 'client_credentials' }),
    });
    expect(json.status).toBe(400);
    expect((await fetch(`${srv.base}/auth/token`)).status).toBe(405);
    const scope = await postToken(await assertion({}), 'patient/*.rs user/Patient.read');
    expect(scope.status).toBe(400);
    expect(await scope.json()).toMatchObject({ error: 'invalid_scope' });
  });
});

describe('SMART scopes', () => {
  it('grants what a registered scope covers, v1 and v2 alike', () => {
    expect(grantScopes('system/Patient.rs system/Condition.read system/Task.cruds', 'system/*.rs')).toEqual([
      'system/Patient.rs',
      'system/Condition.read',
    ]);
    expect(grantScopes('system/*.rs', 'system/Patient.rs')).toEqual([]);
    expect(grantScopes('patient/*.rs user/*.rs openid', 'system/*.cruds')).toEqual([]);
    expect(scopesAllowExport(['system/*.read'], 'Condition')).toBe(true);
    expect(scopesAllowExport(['system/Patient.rs'], 'Condition')).toBe(false);
    expect(scopesAllowExport(['system/Condition.r'], 'Condition')).toBe(false);
    // A v2 query narrows a scope: never granted to a Backend Services client, never enough for an export.
    expect(grantScopes('system/Observation.rs?category=laboratory', 'system/*.rs')).toEqual([]);
    expect(scopesAllowExport(['system/Observation.rs?category=laboratory'], 'Observation')).toBe(false);
  });

  it('grants a public app what its registration covers, per context, and drops what it does not know', () => {
    const allowed = 'launch launch/patient fhirUser patient/*.rs user/Observation.rs';
    expect(
      grantAppScopes(
        'launch/patient openid offline_access patient/Observation.read patient/*.cruds user/Observation.rs?category=x user/Patient.rs system/*.rs',
        allowed,
      ),
    ).toEqual(['launch/patient', 'patient/Observation.read', 'user/Observation.rs?category=x']);
    // A registered scope with a query covers only itself.
    expect(grantAppScopes('patient/Observation.rs', 'patient/Observation.rs?category=x')).toEqual([]);
    expect(parseResourceScope('patient/Observation.')).toBeUndefined();
    expect(parseResourceScope('user/*.write')).toMatchObject({ context: 'user', type: '*', perms: new Set('cud') });
  });
});

describe('AccessTokens', () => {
  it('keeps the launch context of a token, and revokes a token by its id', () => {
    const store = new AccessTokens({ lifetimeSeconds: 60 });
    const t = store.issue('app', ['patient/*.rs'], { patient: 'p1', fhirUser: 'https://x/fhir/Practitioner/demo' });
    expect(store.verify(`Bearer ${t.accessToken}`)).toMatchObject({ clientId: 'app', patient: 'p1' });
    store.revoke(t.tokenId);
    expect(store.verify(`Bearer ${t.accessToken}`)).toBeUndefined();
  });
});
