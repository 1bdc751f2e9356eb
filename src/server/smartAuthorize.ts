/**
 * The demo's SMART authorization endpoint and authorization code grant (app-launch.html#obtain-authorization-code,
 * RFC 6749 §4.1, PKCE S256 per RFC 7636); the launch contract is written at the top of smartLaunch.ts.
 *
 * - GET /authorize checks the app and its redirect_uri first: if either is wrong it answers a 400 page and never
 *   redirects (RFC 6749 §4.1.2.1); any other fault is redirected back as `error`, `error_description`, `state`.
 *   Otherwise it answers the sign-in page: a practitioner picker (the server's Practitioners, or one fixed demo
 *   practitioner), and for a standalone launch asking `launch/patient` a paged, searchable patient picker. The page
 *   shows names and ids of synthetic patients only, escapes everything it prints, runs no script, and carries a
 *   strict CSP.
 * - POST /authorize takes that form with its CSRF token, which is tied to one pending request and to a cookie of
 *   the browser that was shown the page (SameSite=Lax: a cross-site post does not carry it), and redirects with a
 *   one-time code (60 s) bound to the client, redirect_uri, code_challenge, scopes and launch context.
 * - GET /demo-launch (smartLaunch.ts) is mounted on the same router.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { parseSearchRequest } from '@medplum/core';
import type { FhirRepository } from '@medplum/fhir-router';
import express, { type Request, type Response, type Router } from 'express';
import { errorPage, type Named, nameOf, redirectTo, type SignInView, sendPage, signInHtml } from './signInPage.ts';
import {
  demoLaunchRoutes,
  grantAppScopes,
  type LaunchContext,
  type LaunchContexts,
  matchesRegistered,
  OAuthError,
  type PublicClient,
  patientExists,
  serverOrigins,
  singleParams,
  type TokenIssuer,
  timelineAppClient,
} from './smartLaunch.ts';

export interface SmartAuthorizeOptions {
  repo: FhirRepository;
  /** Shared with the Sandbox launch endpoint (fhirRoutes `smart.launches`). */
  launches: LaunchContexts;
  /** The registered public apps; default the exposure timeline (timelineAppClient). */
  publicClients?: () => readonly PublicClient[];
  /** The demo FHIR base, the `aud` apps must ask for; default `${publicUrl}/fhir`. */
  fhirBaseUrl?: () => string;
  codeLifetimeSeconds?: number;
}

type Form = Record<string, string | undefined>;
interface AuthRequest {
  client: PublicClient;
  redirectUri: string;
  state: string;
  scopes: string[];
  challenge: string;
  launch?: LaunchContext;
  pickPatient: boolean;
  /** The OAuth parameters as received: the patient search keeps them. */
  params: Record<string, string>;
}
interface Pending {
  request: AuthRequest;
  csrf: string;
  binding: string;
  expiresAt: number;
}
interface Code extends Pick<AuthRequest, 'redirectUri' | 'challenge' | 'scopes'> {
  clientId: string;
  patient?: string;
  fhirUser?: string;
  appContext?: string;
  expiresAt: number;
  keepUntil: number;
  used: boolean;
  tokenIds: string[];
}
/** The standalone request's parameters that the patient search and page links carry. */
const OAUTH_PARAMS = 'response_type client_id redirect_uri scope state aud code_challenge code_challenge_method'.split(
  ' ',
);
const COOKIE = 'osteowatch_authz';
const PAGE_SIZE = 10;
const PENDING_MS = 600_000;
/** A Practitioner for the sign-in page when the server has none (the CLI's default hook user). */
const DEMO_PRACTITIONER: Named = { id: 'demo', name: 'Demo Clinician' };
const sha256 = (s: string): string => createHash('sha256').update(s).digest('base64url');
const safeEqual = (a: string | undefined, b: string): boolean =>
  a !== undefined && a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));

export function smartAuthorize(
  o: SmartAuthorizeOptions,
  d: { publicUrl: () => string; tokens: TokenIssuer; now?: () => number },
): { router: Router; grant: (form: Form) => Record<string, unknown> } {
  const now = d.now ?? Date.now;
  const clients = o.publicClients ?? (() => [timelineAppClient()]);
  const fhirBase = () => (o.fhirBaseUrl?.() ?? `${d.publicUrl()}/fhir`).replace(/\/+$/, '');
  const codeMs = (o.codeLifetimeSeconds ?? 60) * 1000;
  const pendings = new Map<string, Pending>();
  const codes = new Map<string, Code>();
  const sweep = <T extends { expiresAt: number; keepUntil?: number }>(m: Map<string, T>, max: number) => {
    for (const [k, v] of m) if ((v.keepUntil ?? v.expiresAt) <= now()) m.delete(k);
    if (m.size >= max) m.delete(m.keys().next().value!);
  };
  const origins = (req: Request) => serverOrigins(req, d.publicUrl());

  function check(p: Record<string, string>, repeated: string[], client: PublicClient, req: Request) {
    const fail = (error: string, description: string) => ({ error, description });
    if (repeated.length) return fail('invalid_request', `repeated parameter ${repeated.join(', ')}`);
    if (p.response_type !== 'code') return fail('unsupported_response_type', 'response_type must be code');
    if (!p.state) return fail('invalid_request', 'state is required');
    if (p.code_challenge_method !== 'S256' || !/^[A-Za-z0-9_-]{43}$/.test(p.code_challenge ?? ''))
      return fail('invalid_request', 'PKCE is required: a code_challenge with code_challenge_method=S256');
    const base = fhirBase();
    const path = URL.canParse(base) ? new URL(base).pathname : base;
    const auds = [base, ...origins(req).map((x) => `${x}${path}`)];
    if (!auds.includes((p.aud ?? '').replace(/\/+$/, '')))
      return fail('invalid_request', `aud must be this server's FHIR base URL, ${base}`);
    const scopes = grantAppScopes(p.scope ?? '', client.scope);
    if (!scopes.length)
      return fail('invalid_scope', `none of the requested scopes may be granted to ${client.clientId}`);
    const launch = p.launch ? o.launches.get(p.launch) : undefined;
    if (p.launch && !launch) return fail('invalid_request', 'launch is unknown or has expired: launch the app again');
    const params = Object.fromEntries(OAUTH_PARAMS.flatMap((k) => (p[k] ? [[k, p[k]]] : [])));
    return {
      client,
      redirectUri: p.redirect_uri!,
      state: p.state,
      scopes,
      challenge: p.code_challenge!,
      launch,
      pickPatient: !launch && scopes.includes('launch/patient'),
      params,
    } satisfies AuthRequest;
  }

  const named = async (query: string): Promise<Named[]> =>
    ((await o.repo.search(parseSearchRequest(query))).entry ?? []).flatMap((e) =>
      e.resource ? [nameOf(e.resource)] : [],
    );
  const practitioners = async (): Promise<Named[]> => {
    const list = await named('Practitioner?_count=50');
    return list.length ? list : [DEMO_PRACTITIONER];
  };

  async function render(req: Request, res: Response, r: AuthRequest, id: string, message = '', status = 200) {
    const { p } = singleParams(req.query);
    const view: SignInView = {
      action: `${req.baseUrl}/authorize`,
      appName: r.client.name,
      scopes: r.scopes,
      requestId: id,
      csrf: pendings.get(id)!.csrf,
      practitioners: await practitioners(),
      message,
    };
    if (r.launch) {
      const pt = await o.repo.readResource('Patient', r.launch.patient).catch(() => undefined);
      view.contextPatient = pt ? nameOf(pt) : { id: r.launch.patient, name: r.launch.patient };
    } else if (r.pickPatient) {
      const q = (p.q ?? '').trim().slice(0, 100);
      const page = Math.min(Math.max(Number.parseInt(p.page ?? '0', 10) || 0, 0), 10_000);
      const search = new URLSearchParams({
        _count: `${PAGE_SIZE + 1}`,
        _offset: `${page * PAGE_SIZE}`,
        _sort: 'family',
      });
      if (q) search.set('name', q);
      const found = await named(`Patient?${search}`);
      view.picker = {
        patients: found.slice(0, PAGE_SIZE),
        q,
        params: r.params,
        previous: page > 0 ? page - 1 : undefined,
        next: found.length > PAGE_SIZE ? page + 1 : undefined,
      };
    }
    sendPage(res, status, 'Sign in to the OsteoWatch demo', signInHtml(view), [new URL(r.redirectUri).origin]);
  }

  const router = express.Router();
  router.get('/authorize', async (req: Request, res: Response) => {
    const { p, repeated } = singleParams(req.query);
    const client = clients().find((c) => c.clientId === p.client_id);
    if (!client || repeated.includes('client_id'))
      return errorPage(res, 400, 'Unknown app', 'The client_id is not an app registered with the OsteoWatch demo.');
    if (
      !p.redirect_uri ||
      repeated.includes('redirect_uri') ||
      !matchesRegistered(p.redirect_uri, client.redirectUris, origins(req))
    )
      return errorPage(res, 400, 'Unregistered redirect_uri', `Not a redirect_uri of ${client.clientId}.`);
    const r = check(
      p,
      repeated.filter((k) => !['q', 'page'].includes(k)),
      client,
      req,
    );
    if ('error' in r)
      return redirectTo(res, 302, p.redirect_uri, { error: r.error, error_description: r.description, state: p.state });
    sweep(pendings, 1000);
    let binding = /(?:^|;\s*)osteowatch_authz=([A-Za-z0-9_-]{32})(?:;|$)/.exec(req.get('cookie') ?? '')?.[1];
    if (!binding) {
      binding = randomBytes(24).toString('base64url');
      const path = `${req.baseUrl}/authorize`;
      res.cookie(COOKIE, binding, { path, httpOnly: true, sameSite: 'lax', secure: req.secure });
    }
    const id = randomBytes(18).toString('base64url');
    const csrf = randomBytes(24).toString('base64url');
    pendings.set(id, { request: r, csrf, binding, expiresAt: now() + PENDING_MS });
    await render(req, res, r, id);
  });

  router.post('/authorize', async (req: Request, res: Response) => {
    const body: Record<string, unknown> = req.is('application/x-www-form-urlencoded') && req.body ? req.body : {};
    const f = (k: string) => (typeof body[k] === 'string' ? (body[k] as string) : undefined);
    const id = f('request') ?? '';
    const pending = pendings.get(id);
    if (!pending || pending.expiresAt <= now())
      return errorPage(res, 400, 'Sign-in expired', 'It expired or was already answered: launch the app again.');
    const cookie = /(?:^|;\s*)osteowatch_authz=([^;]*)/.exec(req.get('cookie') ?? '')?.[1];
    if (!safeEqual(f('csrf'), pending.csrf) || !safeEqual(cookie, pending.binding))
      return errorPage(res, 403, 'Sign-in not verified', 'The form was not sent from its page in this browser.');
    const r = pending.request;
    if (f('action') === 'deny') {
      pendings.delete(id);
      return redirectTo(res, 303, r.redirectUri, {
        error: 'access_denied',
        error_description: 'sign-in was denied',
        state: r.state,
      });
    }
    const practitioner = (await practitioners()).find((x) => x.id === f('practitioner'));
    const picked = f('patient');
    const pickedOk = r.pickPatient && !!picked && (await patientExists(o.repo, picked));
    const patient = r.pickPatient ? (pickedOk ? picked : undefined) : r.launch?.patient;
    if (!practitioner || (r.pickPatient && !patient))
      return render(req, res, r, id, practitioner ? 'Choose a patient.' : 'Choose a practitioner.', 400);
    pendings.delete(id);
    sweep(codes, 10_000);
    const code = randomBytes(32).toString('base64url');
    const expiresAt = now() + codeMs;
    codes.set(sha256(code), {
      clientId: r.client.clientId,
      redirectUri: r.redirectUri,
      challenge: r.challenge,
      scopes: r.scopes,
      patient,
      fhirUser: r.scopes.includes('fhirUser') ? `${fhirBase()}/Practitioner/${practitioner.id}` : undefined,
      appContext: r.launch?.appContext,
      expiresAt,
      // A used code is remembered while the tokens issued for it live, so that a replay can revoke them.
      keepUntil: expiresAt + d.tokens.lifetimeSeconds * 1000,
      used: false,
      tokenIds: [],
    });
    redirectTo(res, 303, r.redirectUri, { code, state: r.state });
  });

  router.use(demoLaunchRoutes({ repo: o.repo, launches: o.launches, clients, publicUrl: d.publicUrl, fhirBase }));

  const grant = (form: Form): Record<string, unknown> => {
    if (!form.client_id) throw new OAuthError('invalid_request', 'client_id is required');
    const client = clients().find((c) => c.clientId === form.client_id);
    if (!client) throw new OAuthError('invalid_client', 'unknown client_id');
    if (!form.code || !form.redirect_uri) throw new OAuthError('invalid_request', 'code and redirect_uri are required');
    const c = codes.get(sha256(form.code));
    if (!c || c.keepUntil <= now()) throw new OAuthError('invalid_grant', 'the code is unknown or has expired');
    if (c.used) {
      for (const t of c.tokenIds.splice(0)) d.tokens.revoke(t);
      throw new OAuthError('invalid_grant', 'the code was already used; the tokens issued for it are revoked');
    }
    // One attempt per code, successful or not (RFC 6749 §4.1.2: "MUST NOT use the authorization code more than once").
    c.used = true;
    if (c.expiresAt <= now()) throw new OAuthError('invalid_grant', 'the code has expired');
    if (c.clientId !== client.clientId) throw new OAuthError('invalid_grant', 'the code was issued to another client');
    if (c.redirectUri !== form.redirect_uri)
      throw new OAuthError('invalid_grant', 'redirect_uri differs from the authorization request');
    const verifier = form.code_verifier ?? '';
    if (!/^[A-Za-z0-9\-._~]{43,128}$/.test(verifier) || !safeEqual(sha256(verifier), c.challenge))
      throw new OAuthError('invalid_grant', 'code_verifier does not match the code_challenge (PKCE S256)');
    const t = d.tokens.issue(client.clientId, c.scopes, { patient: c.patient, fhirUser: c.fhirUser });
    c.tokenIds.push(t.tokenId);
    return {
      access_token: t.accessToken,
      token_type: 'bearer',
      expires_in: t.expiresIn,
      scope: c.scopes.join(' '),
      ...(c.patient ? { patient: c.patient } : {}),
      ...(c.fhirUser ? { fhirUser: c.fhirUser } : {}),
      need_patient_banner: false,
      ...(c.appContext !== undefined ? { appContext: c.appContext } : {}),
    };
  };
  return { router, grant };
}
