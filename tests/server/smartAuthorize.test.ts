/**
 * SMART App Launch on the demo server over real HTTP (src/server/smartAuthorize.ts, smartLaunch.ts): the
 * standalone launch through the sign-in page's patient picker, the EHR launch through the CDS Hooks Sandbox's
 * launch endpoint and through /auth/demo-launch, the authorization code grant with PKCE S256 and its refusals
 * (RFC 6749 §4.1.2.1, §5.2; RFC 7636), CSRF on the sign-in form, escaping, and discovery. Redirects are followed
 * by hand, as a browser would; the browser test of the whole flow with fhirclient is the app's.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { validateResource } from '@medplum/core';
import { MemoryRepository } from '@medplum/fhir-router';
import type { CapabilityStatement } from '@medplum/fhirtypes';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateCohort } from '../../src/cohort/generate.ts';
import { resolveExposureConfig } from '../../src/exposure/index.ts';
import { loadFhirDefinitions } from '../../src/fhir/definitions.ts';
import { fhirCors } from '../../src/server/cors.ts';
import { fhirRoutes } from '../../src/server/fhirRoutes.ts';
import { AccessTokens, authorizeUrl, oauthRoutes, tokenUrl } from '../../src/server/oauthRoutes.ts';
import { outcomeErrors } from '../../src/server/outcome.ts';
import { pageRoutes } from '../../src/server/pageRoutes.ts';
import { demoLaunchUrl, LaunchContexts, TIMELINE_CLIENT_ID } from '../../src/server/smartLaunch.ts';

let server: Server;
let base = '';
let fhir = '';
let redirect = '';
let skewMs = 0;
const tokens = new AccessTokens({ lifetimeSeconds: 300 });
const SCRIPT_NAME = '<script>alert(1)</script>';

beforeAll(async () => {
  loadFhirDefinitions();
  const repo = new MemoryRepository();
  for (const r of generateCohort({ size: 20, seed: 7, asOf: '2026-06-30' })) await repo.createResource(r);
  await repo.createResource({
    resourceType: 'Patient',
    id: 'xss',
    name: [{ family: SCRIPT_NAME, given: ['Mallory"'] }],
  });
  const launches = new LaunchContexts();
  const app = express();
  const now = () => Date.now() + skewMs;
  app.use('/auth', oauthRoutes({ clients: [], publicUrl: () => base, tokens, now, smart: { repo, launches } }));
  const smart = { launches, authorizeUrl: () => authorizeUrl(base), tokenUrl: () => tokenUrl(base) };
  app.use('/fhir', fhirCors, fhirRoutes({ repo, smart }));
  // The pages as main.ts serves them when surveillance reads the demo: a patient's timeline link launches with
  // the patient in context.
  app.use(
    pageRoutes({
      assess: { exposure: resolveExposureConfig(), now: () => new Date() },
      launchForPatient: demoLaunchUrl,
    }),
  );
  app.use(outcomeErrors());
  server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  fhir = `${base}/fhir`;
  redirect = `${base}/app/`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

function pkce() {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

function authorizeQuery(challenge: string, extra: Record<string, string | undefined> = {}): string {
  const p: Record<string, string | undefined> = {
    response_type: 'code',
    client_id: TIMELINE_CLIENT_ID,
    redirect_uri: redirect,
    scope: 'launch/patient patient/*.rs fhirUser openid',
    state: 'st-123',
    aud: fhir,
    code_challenge: challenge,
    code_challenge_method: 'S256',
    ...extra,
  };
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(p)) if (v !== undefined) q.set(k, v);
  return `${base}/auth/authorize?${q}`;
}

interface Page {
  status: number;
  html: string;
  headers: Headers;
  cookie: string;
  field: (name: string) => string;
  radios: (name: string) => string[];
}

async function getPage(url: string, cookie = ''): Promise<Page> {
  const res = await fetch(url, { redirect: 'manual', headers: cookie ? { cookie } : {} });
  const html = await res.text();
  const set = res.headers.get('set-cookie');
  return {
    status: res.status,
    html,
    headers: res.headers,
    cookie: set ? set.split(';')[0]! : cookie,
    field: (name) => new RegExp(`name="${name}" value="([^"]*)"`).exec(html)?.[1] ?? '',
    radios: (name) =>
      [...html.matchAll(new RegExp(`type="radio" name="${name}" value="([^"]*)"`, 'g'))].map((m) => m[1]!),
  };
}

const postForm = (url: string, form: Record<string, string>, cookie?: string) =>
  fetch(url, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...(cookie ? { cookie } : {}) },
    body: new URLSearchParams(form),
  });

/** Signs in on a shown page: the first practitioner, and `patient` when the page asks for one. */
async function signIn(page: Page, patient?: string): Promise<URL> {
  const form: Record<string, string> = {
    request: page.field('request'),
    csrf: page.field('csrf'),
    practitioner: page.radios('practitioner')[0]!,
    action: 'approve',
    ...(patient ? { patient } : {}),
  };
  const res = await postForm(`${base}/auth/authorize`, form, page.cookie);
  expect(res.status).toBe(303);
  return new URL(res.headers.get('location')!);
}

const token = (form: Record<string, string>) =>
  fetch(`${base}/auth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'authorization_code', client_id: TIMELINE_CLIENT_ID, ...form }),
  });

/** A code for a standalone launch that picked `patient`. */
async function standaloneCode(patient = 'ow-0001') {
  const { verifier, challenge } = pkce();
  const page = await getPage(authorizeQuery(challenge));
  expect(page.status).toBe(200);
  const back = await signIn(page, patient);
  return { code: back.searchParams.get('code')!, verifier, back };
}

describe('discovery', () => {
  it('serves a SMART App Launch smart-configuration', async () => {
    const res = await fetch(`${fhir}/.well-known/smart-configuration`);
    expect(res.status).toBe(200);
    const doc = (await res.json()) as Record<string, string[]>;
    expect(doc).toMatchObject({
      authorization_endpoint: `${base}/auth/authorize`,
      token_endpoint: `${base}/auth/token`,
      code_challenge_methods_supported: ['S256'],
      response_types_supported: ['code'],
    });
    expect(doc.grant_types_supported).toEqual(expect.arrayContaining(['authorization_code', 'client_credentials']));
    for (const c of [
      'launch-ehr',
      'launch-standalone',
      'client-public',
      'client-confidential-asymmetric',
      'context-ehr-patient',
      'context-standalone-patient',
      'permission-v2',
      'permission-patient',
    ])
      expect(doc.capabilities).toContain(c);
    expect(doc.capabilities).not.toContain('sso-openid-connect');
    expect(doc.scopes_supported).toEqual(expect.arrayContaining(['launch', 'launch/patient', 'patient/*.rs']));
  });

  it('names the OAuth endpoints in the CapabilityStatement (oauth-uris, SMART-on-FHIR)', async () => {
    const cs = (await (await fetch(`${fhir}/metadata`)).json()) as CapabilityStatement;
    expect(validateResource(cs).filter((i) => i.severity === 'error' || i.severity === 'fatal')).toEqual([]);
    const security = cs.rest![0]!.security!;
    expect(security.service![0]!.coding![0]).toMatchObject({ code: 'SMART-on-FHIR' });
    const uris = security.extension!.find(
      (e) => e.url === 'http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris',
    )!;
    expect(uris.extension).toEqual([
      { url: 'authorize', valueUri: `${base}/auth/authorize` },
      { url: 'token', valueUri: `${base}/auth/token` },
    ]);
    const types = cs.rest![0]!.resource!.map((r) => r.type);
    expect(types).toEqual(expect.arrayContaining(['Group', 'Task', 'Patient']));
  });
});

describe('standalone launch', () => {
  it('shows a sign-in page with a paged, searchable patient list, under a strict CSP', async () => {
    const { challenge } = pkce();
    const page = await getPage(authorizeQuery(challenge));
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/text\/html/);
    expect(page.html).toContain('Sign in to the OsteoWatch demo');
    const csp = page.headers.get('content-security-policy')!;
    expect(csp).toMatch(/default-src 'none'/);
    expect(csp).toMatch(/frame-ancestors 'none'/);
    expect(page.headers.get('cache-control')).toBe('no-store');
    expect(page.cookie).toMatch(/^osteowatch_authz=/);
    expect(page.radios('practitioner')).toEqual(['demo']);
    const first = page.radios('patient');
    expect(first).toHaveLength(10);
    expect(page.html).toContain('More patients');
    const more = /<a href="([^"]*)">More patients<\/a>/.exec(page.html)![1]!.replaceAll('&amp;', '&');
    const second = await getPage(new URL(more, base).href, page.cookie);
    expect(second.radios('patient')).toHaveLength(10);
    expect(second.radios('patient').filter((id) => first.includes(id))).toEqual([]);
    expect(second.html).toContain('Previous patients');
    const found = await getPage(`${authorizeQuery(challenge)}&q=mallory`, page.cookie);
    expect(found.radios('patient')).toEqual(['xss']);
  });

  it('issues a code for the picked patient, and a token for it with the right verifier', async () => {
    const { code, verifier, back } = await standaloneCode('ow-0002');
    expect(`${back.origin}${back.pathname}`).toBe(redirect);
    expect(back.searchParams.get('state')).toBe('st-123');
    const res = await token({ code, redirect_uri: redirect, code_verifier: verifier });
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const body = (await res.json()) as Record<string, unknown>;
    expect(body).toMatchObject({
      token_type: 'bearer',
      expires_in: 300,
      patient: 'ow-0002',
      need_patient_banner: false,
      fhirUser: `${fhir}/Practitioner/demo`,
    });
    // openid is not granted: the demo issues no id_token.
    expect(String(body.scope).split(' ').sort()).toEqual(['fhirUser', 'launch/patient', 'patient/*.rs']);
    expect(body.appContext).toBeUndefined();
    expect(tokens.verify(`Bearer ${body.access_token}`)).toMatchObject({
      clientId: TIMELINE_CLIENT_ID,
      patient: 'ow-0002',
    });
    // The demo FHIR server stays open; the token is accepted (and not needed) there.
    const read = await fetch(`${fhir}/Patient/ow-0002`, { headers: { authorization: `Bearer ${body.access_token}` } });
    expect(read.status).toBe(200);
  });

  it('refuses a wrong verifier, and a reused code, revoking the token issued for it', async () => {
    const wrong = await standaloneCode();
    const bad = await token({ code: wrong.code, redirect_uri: redirect, code_verifier: pkce().verifier });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ error: 'invalid_grant' });

    const { code, verifier } = await standaloneCode();
    const ok = (await (await token({ code, redirect_uri: redirect, code_verifier: verifier })).json()) as {
      access_token: string;
    };
    expect(tokens.verify(`Bearer ${ok.access_token}`)).toBeDefined();
    const again = await token({ code, redirect_uri: redirect, code_verifier: verifier });
    expect(again.status).toBe(400);
    expect(await again.json()).toMatchObject({ error: 'invalid_grant', error_description: /already used/ });
    expect(tokens.verify(`Bearer ${ok.access_token}`)).toBeUndefined();
  });

  it('refuses a code redeemed with another redirect_uri, another client, or after 60 s', async () => {
    const a = await standaloneCode();
    const res = await token({ code: a.code, redirect_uri: `${base}/app/index.html`, code_verifier: a.verifier });
    expect(await res.json()).toMatchObject({ error: 'invalid_grant' });
    const b = await standaloneCode();
    const other = await token({ code: b.code, redirect_uri: redirect, code_verifier: b.verifier, client_id: 'x' });
    expect(other.status).toBe(401);
    expect(await other.json()).toMatchObject({ error: 'invalid_client' });
    const c = await standaloneCode();
    skewMs = 61_000;
    try {
      const late = await token({ code: c.code, redirect_uri: redirect, code_verifier: c.verifier });
      expect(await late.json()).toMatchObject({ error: 'invalid_grant', error_description: /expired/ });
    } finally {
      skewMs = 0;
    }
  });

  it('answers a wrong redirect_uri or client with a 400 page, never a redirect', async () => {
    const { challenge } = pkce();
    for (const extra of [
      { redirect_uri: 'https://evil.example/app/' },
      { redirect_uri: `${base}/app/other` },
      { redirect_uri: undefined },
      { client_id: 'unknown-app' },
    ]) {
      const res = await fetch(authorizeQuery(challenge, extra), { redirect: 'manual' });
      expect(res.status).toBe(400);
      expect(res.headers.get('location')).toBeNull();
      expect(res.headers.get('content-type')).toMatch(/text\/html/);
    }
  });

  it('redirects other faults back with error and state (RFC 6749 §4.1.2.1)', async () => {
    const { challenge } = pkce();
    const cases: Array<[Record<string, string | undefined>, string]> = [
      [{ code_challenge: undefined, code_challenge_method: undefined }, 'invalid_request'],
      [{ code_challenge_method: 'plain' }, 'invalid_request'],
      [{ response_type: 'token' }, 'unsupported_response_type'],
      [{ aud: 'https://other.example/fhir' }, 'invalid_request'],
      [{ scope: 'system/*.rs user/*.cruds' }, 'invalid_scope'],
      [{ launch: 'no-such-launch' }, 'invalid_request'],
    ];
    for (const [extra, error] of cases) {
      const res = await fetch(authorizeQuery(challenge, extra), { redirect: 'manual' });
      expect(res.status).toBe(302);
      const to = new URL(res.headers.get('location')!);
      expect(`${to.origin}${to.pathname}`).toBe(redirect);
      expect(to.searchParams.get('error')).toBe(error);
      expect(to.searchParams.get('state')).toBe('st-123');
      expect(to.searchParams.get('code')).toBeNull();
    }
  });

  // Its first character changed (to another one: a token starting with "x" stays one with "y").
  const tampered = (t: string) => `${t[0] === 'x' ? 'y' : 'x'}${t.slice(1)}`;

  it('requires the CSRF token and the cookie of the page that showed the form', async () => {
    const { challenge } = pkce();
    const page = await getPage(authorizeQuery(challenge));
    const form = {
      request: page.field('request'),
      csrf: page.field('csrf'),
      practitioner: 'demo',
      patient: 'ow-0001',
      action: 'approve',
    };
    const { csrf: _, ...noCsrf } = form;
    expect((await postForm(`${base}/auth/authorize`, noCsrf, page.cookie)).status).toBe(403);
    expect((await postForm(`${base}/auth/authorize`, { ...form, csrf: tampered(form.csrf) }, page.cookie)).status).toBe(
      403,
    );
    expect((await postForm(`${base}/auth/authorize`, form)).status).toBe(403);
    expect((await postForm(`${base}/auth/authorize`, form, 'osteowatch_authz=someone-else')).status).toBe(403);
    const ok = await postForm(`${base}/auth/authorize`, form, page.cookie);
    expect(ok.status).toBe(303);
    // Answered once: the same form again is refused.
    expect((await postForm(`${base}/auth/authorize`, form, page.cookie)).status).toBe(400);
  });

  it('asks again for a missing patient, and redirects access_denied when the user denies', async () => {
    const { challenge } = pkce();
    const page = await getPage(authorizeQuery(challenge));
    const form = { request: page.field('request'), csrf: page.field('csrf'), practitioner: 'demo' };
    const missing = await postForm(`${base}/auth/authorize`, { ...form, action: 'approve' }, page.cookie);
    expect(missing.status).toBe(400);
    expect(await missing.text()).toContain('Choose a patient.');
    const bogus = await postForm(
      `${base}/auth/authorize`,
      { ...form, action: 'approve', patient: 'nope' },
      page.cookie,
    );
    expect(bogus.status).toBe(400);
    const deny = await postForm(`${base}/auth/authorize`, { ...form, action: 'deny' }, page.cookie);
    expect(deny.status).toBe(303);
    const to = new URL(deny.headers.get('location')!);
    expect(to.searchParams.get('error')).toBe('access_denied');
    expect(to.searchParams.get('state')).toBe('st-123');
  });

  it('escapes patient names', async () => {
    const { challenge } = pkce();
    const page = await getPage(`${authorizeQuery(challenge)}&q=${encodeURIComponent(SCRIPT_NAME)}`);
    expect(page.radios('patient')).toEqual(['xss']);
    expect(page.html).not.toMatch(/<script/i);
    expect(page.html).toContain('Mallory&quot; &lt;script&gt;alert(1)&lt;/script&gt;');
    expect(page.html).toContain('value="&lt;script&gt;alert(1)&lt;/script&gt;"');
  });
});

describe('EHR launch', () => {
  const SANDBOX = 'https://sandbox.cds-hooks.org';
  const appContext = JSON.stringify({ patient: 'ow-0003', view: 'exposure-timeline' });

  /** What the CDS Hooks Sandbox sends (src/retrieve-data-helpers/launch-context-retrieval.js). */
  const sandboxLaunch = (parameters: Record<string, unknown>) =>
    fetch(`${fhir}/_services/smart/Launch`, {
      method: 'POST',
      headers: { Accept: 'application/json', 'Content-Type': 'application/json', Origin: SANDBOX },
      body: JSON.stringify({ launchUrl: `${base}/app/launch`, parameters }),
    });

  async function codeFor(launch: string) {
    const { verifier, challenge } = pkce();
    const page = await getPage(authorizeQuery(challenge, { launch, scope: 'launch patient/*.rs' }));
    expect(page.status).toBe(200);
    expect(page.radios('patient')).toEqual([]);
    const back = await signIn(page);
    return { page, code: back.searchParams.get('code')!, verifier };
  }

  it('takes a launch from the CDS Hooks Sandbox and hands its patient and appContext to the app', async () => {
    const preflight = await fetch(`${fhir}/_services/smart/Launch`, {
      method: 'OPTIONS',
      headers: {
        Origin: SANDBOX,
        'Access-Control-Request-Method': 'POST',
        'Access-Control-Request-Headers': 'authorization,content-type',
      },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe('*');
    expect(preflight.headers.get('access-control-allow-methods')).toContain('POST');
    expect(preflight.headers.get('access-control-allow-headers')).toMatch(/Content-Type/);

    const res = await sandboxLaunch({ patient: 'ow-0003', smart_messaging_origin: SANDBOX, appContext });
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    const { launch_id } = (await res.json()) as { launch_id: string };
    // The Sandbox appends it to the launch URL as it is.
    expect(launch_id).toMatch(/^[A-Za-z0-9_-]{16,}$/);

    const { page, code, verifier } = await codeFor(launch_id);
    expect(page.html).toContain('Patient in context');
    const body = (await (await token({ code, redirect_uri: redirect, code_verifier: verifier })).json()) as Record<
      string,
      unknown
    >;
    expect(body).toMatchObject({
      patient: 'ow-0003',
      appContext,
      need_patient_banner: false,
      scope: 'launch patient/*.rs',
    });
    expect(body.fhirUser).toBeUndefined();
    // A launch id lasts an hour and may be used again (a card link clicked twice).
    expect((await codeFor(launch_id)).code).toBeTruthy();
  });

  it('refuses a Sandbox launch for a patient the server does not have, or without parameters', async () => {
    expect((await sandboxLaunch({ patient: 'no-such-patient' })).status).toBe(400);
    expect((await sandboxLaunch({ patient: 'ow-0003', appContext: { not: 'a string' } })).status).toBe(400);
    const noParams = await fetch(`${fhir}/_services/smart/Launch`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ launchUrl: 'x' }),
    });
    expect(noParams.status).toBe(400);
    expect((await fetch(`${fhir}/_services/smart/Launch`)).status).toBe(405);
  });

  it("the dashboard's link to a patient's timeline (/app/launch?patient=) launches with that patient in context", async () => {
    const first = await fetch(`${base}/app/launch?patient=ow-0004`, { redirect: 'manual' });
    expect(first.status).toBe(303);
    expect(first.headers.get('location')).toBe('/auth/demo-launch?patient=ow-0004');
    const second = await fetch(`${base}${first.headers.get('location')}`, { redirect: 'manual' });
    expect(second.status).toBe(303);
    const to = new URL(second.headers.get('location')!);
    expect(`${to.origin}${to.pathname}`).toBe(`${base}/app/launch`);
    const { code, verifier } = await codeFor(to.searchParams.get('launch')!);
    const body = (await (await token({ code, redirect_uri: redirect, code_verifier: verifier })).json()) as {
      patient?: string;
    };
    expect(body.patient).toBe('ow-0004');
    // An EHR's own launch (iss and launch) is left as it is.
    const ehr = await fetch(`${base}/app/launch?iss=${encodeURIComponent(fhir)}&launch=abc&patient=x`, {
      redirect: 'manual',
    });
    expect(ehr.status).toBe(302);
    expect(ehr.headers.get('location')).toMatch(/^\/app\/launch\.html\?iss=/);
  });

  it('launches from the demo EHR stand-in (/auth/demo-launch) as an EHR would', async () => {
    const res = await fetch(`${base}/auth/demo-launch?patient=ow-0004&appContext=${encodeURIComponent(appContext)}`, {
      redirect: 'manual',
    });
    expect(res.status).toBe(303);
    const to = new URL(res.headers.get('location')!);
    expect(`${to.origin}${to.pathname}`).toBe(`${base}/app/launch`);
    expect(to.searchParams.get('iss')).toBe(fhir);
    const { code, verifier } = await codeFor(to.searchParams.get('launch')!);
    const body = (await (await token({ code, redirect_uri: redirect, code_verifier: verifier })).json()) as Record<
      string,
      unknown
    >;
    expect(body).toMatchObject({ patient: 'ow-0004', appContext });

    const bad = await fetch(`${base}/auth/demo-launch?patient=ow-0004&launchUrl=https://evil.example/`, {
      redirect: 'manual',
    });
    expect(bad.status).toBe(400);
    expect((await fetch(`${base}/auth/demo-launch?patient=nobody`, { redirect: 'manual' })).status).toBe(400);
  });
});

describe('the token endpoint and browsers', () => {
  it('answers a CORS preflight and the request from another origin', async () => {
    const pre = await fetch(`${base}/auth/token`, {
      method: 'OPTIONS',
      headers: {
        Origin: 'https://app.example',
        'Access-Control-Request-Method': 'POST',
        'Access-Control-Request-Headers': 'content-type',
      },
    });
    expect(pre.status).toBe(204);
    expect(pre.headers.get('access-control-allow-origin')).toBe('*');
    expect(pre.headers.get('access-control-allow-methods')).toContain('POST');
    const res = await fetch(`${base}/auth/token`, {
      method: 'POST',
      headers: { Origin: 'https://app.example', 'content-type': 'application/x-www-form-urlencoded' },
      body: 'grant_type=authorization_code&client_id=osteowatch-timeline&code=x&redirect_uri=y',
    });
    expect(res.status).toBe(400);
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    expect(await res.json()).toMatchObject({ error: 'invalid_grant' });
  });
});
