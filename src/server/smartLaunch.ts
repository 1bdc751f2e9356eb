/**
 * SMART App Launch 2.x on the demo (https://hl7.org/fhir/smart-app-launch/app-launch.html): the launch contract,
 * the launch contexts, the registered public apps, SMART scopes for them, and the CDS Hooks Sandbox's launch
 * endpoint. The authorization endpoint and the authorization_code grant are smartAuthorize.ts; the token
 * endpoint oauthRoutes.ts.
 *
 * The contract, for a SMART app such as the exposure timeline (/app/, client_id `osteowatch-timeline`, public,
 * PKCE S256 required):
 *
 * 1. EHR launch. The app's launch page is opened with `?iss=<FHIR base>&launch=<launch id>`, iss being
 *    `${publicUrl}/fhir`. A launch id comes from one of:
 *    - the CDS Hooks Sandbox: for a card link of type "smart" it calls
 *      `POST [FHIR base]/_services/smart/Launch` with `{"launchUrl": link.url, "parameters": {"patient": id,
 *      "smart_messaging_origin": origin, "appContext": link.appContext}}` (appContext only when the card has one)
 *      and gets `{"launch_id": "…"}`; it then opens `${launchUrl}?launch=<id>&iss=<FHIR base>` (mirrors
 *      cds-hooks/sandbox src/retrieve-data-helpers/launch-context-retrieval.js). CORS: any origin (app.ts fhirCors).
 *    - the demo's EHR stand-in, for our own cards and pages: `GET /auth/demo-launch?patient=<id>[&appContext=<s>]
 *      [&launchUrl=<a registered launch URL>]` answers 303 to `${launchUrl}?iss=<FHIR base>&launch=<id>`; the
 *      launch URL defaults to the first registered app's first launch URL (`${publicUrl}/app/launch`).
 *    A launch id is an opaque URL-safe string, valid for one hour, usable more than once in that hour (a card link
 *    may be clicked twice), kept in this process's memory (LaunchContexts; lost on restart).
 * 2. Standalone launch: the app starts with iss only and asks for scope `launch/patient`; the sign-in page then
 *    shows a patient picker.
 * 3. The app (fhirclient) reads `[FHIR base]/.well-known/smart-configuration` and redirects the browser to
 *    `GET /auth/authorize?response_type=code&client_id&redirect_uri&scope&state&aud=<FHIR base>&code_challenge
 *    &code_challenge_method=S256[&launch]`. The sign-in page (a practitioner picker, and a patient picker for a
 *    standalone launch) redirects back to redirect_uri with `code` and `state`, or with `error` and `state`.
 * 4. `POST /auth/token` (form: grant_type=authorization_code, code, redirect_uri, client_id, code_verifier) answers
 *    `{access_token, token_type: "bearer", expires_in, scope, patient, need_patient_banner: false, fhirUser?
 *    (when scope fhirUser was granted), appContext? (the string the card or launch gave, unchanged)}`. The code
 *    lives 60 s and is single-use; no refresh token, no id_token.
 * 5. The demo /fhir reads and writes stay open: a token is sent along by the app and ignored (served as without
 *    one, even if invalid or expired); only Bulk Data $export asks for one (a system scope).
 */
import { randomBytes } from 'node:crypto';
import type { FhirRepository } from '@medplum/fhir-router';
import express, { type Request, type Response, type Router } from 'express';
import { FHIR_ID } from '../terminology/fhirId.ts';
import { sendOutcome } from './outcome.ts';
import { errorPage } from './signInPage.ts';

export const TIMELINE_CLIENT_ID = 'osteowatch-timeline';

/** The demo EHR stand-in's launch of the timeline app for a patient (GET /auth/demo-launch, below). */
export const demoLaunchUrl = (patientId: string): string =>
  `/auth/demo-launch?patient=${encodeURIComponent(patientId)}`;

/** An RFC 6749 refusal (§5.2 at the token endpoint): `invalid_client` is 401, the rest 400. */
export class OAuthError extends Error {
  readonly error: string;
  readonly description: string;
  constructor(error: string, description: string) {
    super(description);
    this.error = error;
    this.description = description;
  }
}

/** What the grant needs of the token store (oauthRoutes.ts AccessTokens). */
export interface TokenIssuer {
  readonly lifetimeSeconds: number;
  issue(
    clientId: string,
    scopes: readonly string[],
    context?: { patient?: string; fhirUser?: string },
  ): { accessToken: string; expiresIn: number; tokenId: string };
  revoke(tokenId: string): void;
}

/**
 * A registered public SMART app (no secret: PKCE stands in, https://www.rfc-editor.org/rfc/rfc7636). Redirect and
 * launch URLs are absolute, or paths on this server: a path matches under the configured public URL and under the
 * origin the browser reached the server by (127.0.0.1 and localhost alike).
 */
export interface PublicClient {
  clientId: string;
  /** Shown on the sign-in page. */
  name: string;
  /** Compared exactly (RFC 6749 §3.1.2.3), once a path is resolved against a server origin. */
  redirectUris: readonly string[];
  /** The app's launch pages: where /auth/demo-launch may send the browser. */
  launchUrls: readonly string[];
  /** Space-separated scopes the app may be granted (SMART v2 permissions; v1 read is covered by rs). */
  scope: string;
}

/** The exposure timeline app (/app/), served by this server. */
export const timelineAppClient = (): PublicClient => ({
  clientId: TIMELINE_CLIENT_ID,
  name: 'OsteoWatch exposure timeline',
  redirectUris: ['/app/', '/app/index.html'],
  launchUrls: ['/app/launch', '/app/launch.html'],
  scope: 'launch launch/patient fhirUser patient/*.rs user/*.rs',
});

/** This server's origins: the configured public URL's, and the one the browser reached it by. */
export const serverOrigins = (req: Request, publicUrl: string): string[] => [
  ...new Set([...(URL.canParse(publicUrl) ? [new URL(publicUrl).origin] : []), `${req.protocol}://${req.get('host')}`]),
];

/** The query's parameters, one value each, and the names of those given more than once (RFC 6749 §3.1). */
export function singleParams(query: Record<string, unknown>): { p: Record<string, string>; repeated: string[] } {
  const p: Record<string, string> = {};
  const repeated: string[] = [];
  for (const [k, v] of Object.entries(query))
    if (typeof v === 'string') p[k] = v;
    else repeated.push(k);
  return { p, repeated };
}

/** `uri` is one of `registered` (absolute, or a path under one of `origins`). */
export function matchesRegistered(uri: string, registered: readonly string[], origins: readonly string[]): boolean {
  return registered.some((r) => (r.startsWith('/') ? origins.some((o) => `${o}${r}` === uri) : r === uri));
}

/** A SMART resource scope (scopes-and-launch-context.html): v2 `c r u d s` in order, or v1 read/write/*. */
export interface ResourceScope {
  context: 'patient' | 'user' | 'system';
  type: string;
  perms: Set<string>;
}

export function parseResourceScope(scope: string): ResourceScope | undefined {
  // A v2 query suffix (?category=…) narrows a scope: it is checked as its base scope.
  const m = /^(patient|user|system)\/(\*|[A-Z][A-Za-z]*)\.(read|write|\*|c?r?u?d?s?)(\?[^\s]*)?$/.exec(scope);
  if (!m || m[3] === '') return undefined;
  const v1: Record<string, string> = { read: 'rs', write: 'cud', '*': 'cruds' };
  return { context: m[1] as ResourceScope['context'], type: m[2]!, perms: new Set(v1[m[3]!] ?? m[3]!) };
}

/**
 * The requested scopes a public app may have: resource scopes covered by one it is registered for (same
 * context, type or *, every permission), other scopes (launch, launch/patient, fhirUser) named in its registration.
 */
export function grantAppScopes(requested: string, allowed: string): string[] {
  const mine = allowed.split(/\s+/).filter(Boolean);
  // A registered scope with a query covers only itself (named below), never its whole type.
  const mineParsed = mine.flatMap((s) => (s.includes('?') ? [] : (parseResourceScope(s) ?? [])));
  return [...new Set(requested.split(/\s+/).filter(Boolean))].filter((s) => {
    const wanted = parseResourceScope(s);
    if (!wanted || mine.includes(s)) return mine.includes(s);
    return mineParsed.some(
      (a) =>
        a.context === wanted.context &&
        (a.type === '*' || a.type === wanted.type) &&
        [...wanted.perms].every((p) => a.perms.has(p)),
    );
  });
}

/** What a launch id stands for. */
export interface LaunchContext {
  patient: string;
  /** CDS Hooks link.appContext, passed to the app unchanged in the token response. */
  appContext?: string;
  launchUrl?: string;
  /** The Sandbox's smart_messaging_origin (kept; SMART web messaging is not offered). */
  messagingOrigin?: string;
}

/** Launch contexts by launch id, in this process's memory: one hour each (default), at most `max`. */
export class LaunchContexts {
  private readonly contexts = new Map<string, LaunchContext & { expiresAt: number }>();
  private readonly ttlMs: number;
  private readonly now: () => number;
  private readonly max: number;
  constructor(o: { ttlMs?: number; now?: () => number; max?: number } = {}) {
    this.ttlMs = o.ttlMs ?? 3_600_000;
    this.now = o.now ?? Date.now;
    this.max = o.max ?? 10_000;
  }
  create(context: LaunchContext): string {
    const now = this.now();
    for (const [k, c] of this.contexts) if (c.expiresAt <= now) this.contexts.delete(k);
    if (this.contexts.size >= this.max) this.contexts.delete(this.contexts.keys().next().value!);
    // URL-safe: the Sandbox appends it to the launch URL without encoding it.
    const id = randomBytes(18).toString('base64url');
    this.contexts.set(id, { ...context, expiresAt: now + this.ttlMs });
    return id;
  }
  get(id: string): LaunchContext | undefined {
    const c = this.contexts.get(id);
    if (!c || c.expiresAt <= this.now()) return undefined;
    const { expiresAt: _, ...context } = c;
    return context;
  }
}

const MAX_APP_CONTEXT = 4096;

/** Whether Patient/`id` is on the server. */
export async function patientExists(repo: FhirRepository, id: string): Promise<boolean> {
  if (!FHIR_ID.test(id)) return false;
  return repo.readResource('Patient', id).then(
    () => true,
    () => false,
  );
}

/** A launch context from what a caller sent, or why it cannot be one. */
export async function launchContextOf(
  repo: FhirRepository,
  p: { patient?: unknown; appContext?: unknown },
): Promise<LaunchContext | string> {
  if (typeof p.patient !== 'string' || !FHIR_ID.test(p.patient)) return 'patient must be a Patient id';
  if (p.appContext !== undefined && typeof p.appContext !== 'string') return 'appContext must be a string';
  if ((p.appContext ?? '').length > MAX_APP_CONTEXT) return `appContext is longer than ${MAX_APP_CONTEXT} characters`;
  if (!(await patientExists(repo, p.patient))) return `Patient/${p.patient} is not on this server`;
  return { patient: p.patient, ...(p.appContext !== undefined ? { appContext: p.appContext } : {}) };
}

/** The CDS Hooks Sandbox's launch endpoint, mounted under the FHIR base (fhirRoutes.ts) after its JSON parser. */
export function smartLaunchRoutes(o: { repo: FhirRepository; launches: LaunchContexts }): Router {
  const router = express.Router();
  router.post('/_services/smart/Launch', async (req: Request, res: Response) => {
    const body = (req.body ?? {}) as { launchUrl?: unknown; parameters?: Record<string, unknown> };
    if (typeof body !== 'object' || typeof body.parameters !== 'object' || !body.parameters)
      return sendOutcome(res, 400, 'invalid', 'The body must be {"launchUrl": …, "parameters": {"patient": …}}');
    const launchUrl = typeof body.launchUrl === 'string' ? body.launchUrl.slice(0, 2048) : undefined;
    const origin = body.parameters.smart_messaging_origin;
    const context = await launchContextOf(o.repo, body.parameters);
    if (typeof context === 'string') return sendOutcome(res, 400, 'invalid', context);
    const launchId = o.launches.create({
      ...context,
      ...(launchUrl ? { launchUrl } : {}),
      ...(typeof origin === 'string' ? { messagingOrigin: origin.slice(0, 512) } : {}),
    });
    res.status(200).set('Cache-Control', 'no-store').json({ launch_id: launchId });
  });
  router.all('/_services/smart/Launch', (_req, res) => {
    res.set('Allow', 'POST');
    sendOutcome(res, 405, 'not-supported', 'The launch endpoint takes POST');
  });
  return router;
}

/** GET /demo-launch (under /auth): the demo's EHR stand-in, see the contract above. */
export function demoLaunchRoutes(o: {
  repo: FhirRepository;
  launches: LaunchContexts;
  clients: () => readonly PublicClient[];
  publicUrl: () => string;
  fhirBase: () => string;
}): Router {
  const router = express.Router();
  router.get('/demo-launch', async (req: Request, res: Response) => {
    const { p, repeated } = singleParams(req.query);
    if (repeated.length) return errorPage(res, 400, 'Cannot launch', `repeated parameter ${repeated.join(', ')}`);
    const context = await launchContextOf(o.repo, { patient: p.patient, appContext: p.appContext });
    if (typeof context === 'string') return errorPage(res, 400, 'Cannot launch', context);
    const absolute = (u: string | undefined) => (u?.startsWith('/') ? `${o.publicUrl()}${u}` : u);
    const registered = o.clients().flatMap((c) => c.launchUrls);
    const launchUrl = absolute(p.launchUrl ?? registered[0]);
    if (!launchUrl || !matchesRegistered(launchUrl, registered, serverOrigins(req, o.publicUrl())))
      return errorPage(res, 400, 'Cannot launch', 'launchUrl is not the launch page of a registered app.');
    const url = new URL(launchUrl);
    url.searchParams.set('iss', o.fhirBase());
    url.searchParams.set('launch', o.launches.create({ ...context, launchUrl }));
    res.set('Cache-Control', 'no-store').redirect(303, url.href);
  });
  return router;
}
