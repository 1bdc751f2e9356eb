/**
 * The demo's OAuth 2.0 authorization server for SMART Backend Services
 * (https://hl7.org/fhir/smart-app-launch/backend-services.html): POST /auth/token takes the client_credentials
 * grant with a private_key_jwt client assertion (RFC 7523, https://www.rfc-editor.org/rfc/rfc7523), checked
 * against the registered client's public keys, and issues a short-lived opaque bearer token that the Bulk Data
 * routes verify through the shared AccessTokens object. Discovery (.well-known/smart-configuration) is built here
 * (smartConfiguration) and served under the FHIR base, where SMART puts it: by fhirRoutes.ts with its `smart`
 * options, else by bulkExportRoutes.ts (Backend Services only).
 *
 * Grants are dispatched by grant_type from one table. With `smart`, the router also serves SMART App Launch for
 * public apps (smartAuthorize.ts: GET/POST /authorize, GET /demo-launch, the authorization_code grant with PKCE;
 * the launch contract is at the top of smartLaunch.ts). Token errors are RFC 6749 §5.2 JSON
 * (https://www.rfc-editor.org/rfc/rfc6749#section-5.2), never an OperationOutcome: OAuth clients read `error`.
 * The token endpoint answers CORS requests from any origin (no cookies are involved), preflight included.
 */
import { createHash, randomBytes } from 'node:crypto';
import express, { type ErrorRequestHandler, type Request, type Response, type Router } from 'express';
import { createLocalJWKSet, decodeJwt, decodeProtectedHeader, type JWK, jwtVerify } from 'jose';
import { ReplayCache } from '../auth/replayStore.ts';
import { cors } from './cors.ts';
import { type SmartAuthorizeOptions, smartAuthorize } from './smartAuthorize.ts';
import { grantAppScopes, OAuthError, parseResourceScope, type TokenIssuer } from './smartLaunch.ts';

export { OAuthError } from './smartLaunch.ts';

export const JWT_BEARER = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
/** SMART Backend Services: asymmetric signatures only, RS384 and ES384 (§ "Authenticating to the server"). */
export const ASSERTION_ALGORITHMS = ['RS384', 'ES384'] as const;
/** "exp: … no more than five minutes in the future" (backend-services.html#protocol-details). */
const MAX_ASSERTION_LIFETIME_S = 300;
const CLOCK_TOLERANCE_S = 30;

/** A registered backend client: its public keys (inline, exchanged out of band) and the scopes it may have. */
export interface RegisteredClient {
  clientId: string;
  jwks: { keys: JWK[] };
  /** Space-separated scopes the client may be granted, e.g. "system/*.rs". */
  scope: string;
}

/** What a valid access token stands for. */
export interface AccessGrant {
  clientId: string;
  scopes: readonly string[];
  /** ms since the epoch. */
  expiresAt: number;
  /** SMART App Launch context: the patient in context and the signed-in user (a Practitioner URL). */
  patient?: string;
  fhirUser?: string;
}

/** What the resource server (bulkExportRoutes.ts) needs: the grant behind an Authorization header, if valid. */
export interface TokenVerifier {
  verify(authorization: string | undefined): AccessGrant | undefined;
}

const sha256 = (s: string): string => createHash('sha256').update(s).digest('base64url');

/**
 * Opaque access tokens kept in this process's memory (the demo runs one process): only their SHA-256 is stored,
 * so a memory dump does not hand out live tokens. Bounded: expired grants are swept on issue, and at `max`
 * live tokens the oldest is dropped.
 */
export class AccessTokens implements TokenVerifier, TokenIssuer {
  private readonly grants = new Map<string, AccessGrant>();
  readonly lifetimeSeconds: number;
  private readonly now: () => number;
  private readonly max: number;
  constructor(o: { lifetimeSeconds?: number; now?: () => number; max?: number } = {}) {
    this.lifetimeSeconds = o.lifetimeSeconds ?? 300;
    this.now = o.now ?? Date.now;
    this.max = o.max ?? 10_000;
  }
  /** A new token; `tokenId` names it to revoke() without keeping the token itself. */
  issue(
    clientId: string,
    scopes: readonly string[],
    context: { patient?: string; fhirUser?: string } = {},
  ): { accessToken: string; expiresIn: number; tokenId: string } {
    const now = this.now();
    for (const [k, g] of this.grants) if (g.expiresAt <= now) this.grants.delete(k);
    if (this.grants.size >= this.max) this.grants.delete(this.grants.keys().next().value!);
    const accessToken = randomBytes(32).toString('base64url');
    const tokenId = sha256(accessToken);
    const { patient, fhirUser } = context;
    this.grants.set(tokenId, {
      clientId,
      scopes,
      expiresAt: now + this.lifetimeSeconds * 1000,
      ...(patient ? { patient } : {}),
      ...(fhirUser ? { fhirUser } : {}),
    });
    return { accessToken, expiresIn: this.lifetimeSeconds, tokenId };
  }
  revoke(tokenId: string): void {
    this.grants.delete(tokenId);
  }
  verify(authorization: string | undefined): AccessGrant | undefined {
    const m = /^Bearer\s+([A-Za-z0-9\-._~+/]+=*)$/i.exec(authorization?.trim() ?? '');
    if (!m) return undefined;
    const grant = this.grants.get(sha256(m[1]!));
    return grant && grant.expiresAt > this.now() ? grant : undefined;
  }
}

/** A SMART system scope without a query (v2 `c r u d s`, or v1 read/write/* read as v2; smartLaunch.ts). */
export function parseSystemScope(scope: string): { type: string; perms: Set<string> } | undefined {
  const p = parseResourceScope(scope);
  return p?.context === 'system' && !scope.includes('?') ? p : undefined;
}

/** The requested system scopes the client may have: each one covered by a scope it is registered for. */
export const grantScopes = (requested: string, allowed: string): string[] =>
  grantAppScopes(requested, allowed).filter((s) => !!parseSystemScope(s));

/** Whether granted scopes allow reading and searching `resourceType` (what a Bulk Data export of it does). */
export const scopesAllowExport = (scopes: readonly string[], resourceType: string): boolean =>
  grantScopes(`system/${resourceType}.rs`, scopes.join(' ')).length > 0;

/** The token endpoint's URL: the `aud` every client assertion must carry. */
export const tokenUrl = (publicUrl: string, mountPath = '/auth'): string => `${publicUrl}${mountPath}/token`;
/** The SMART authorization endpoint's URL (with `smart` options). */
export const authorizeUrl = (publicUrl: string, mountPath = '/auth'): string => `${publicUrl}${mountPath}/authorize`;

/**
 * [fhir base]/.well-known/smart-configuration (https://hl7.org/fhir/smart-app-launch/conformance.html): Backend
 * Services only, or with `authorize` SMART App Launch for public apps too (EHR and standalone, PKCE S256).
 */
export function smartConfiguration(token: string, authorize?: string): Record<string, unknown> {
  const backend = {
    token_endpoint: token,
    token_endpoint_auth_methods_supported: ['private_key_jwt'],
    token_endpoint_auth_signing_alg_values_supported: [...ASSERTION_ALGORITHMS],
    grant_types_supported: ['client_credentials'],
    scopes_supported: ['system/*.rs', 'system/*.read'],
    capabilities: ['client-confidential-asymmetric', 'permission-v1', 'permission-v2'],
    // REQUIRED in every SMART 2 configuration, S256 included (conformance.html#metadata).
    code_challenge_methods_supported: ['S256'],
  };
  if (!authorize) return backend;
  return {
    ...backend,
    authorization_endpoint: authorize,
    grant_types_supported: ['authorization_code', 'client_credentials'],
    response_types_supported: ['code'],
    scopes_supported: [
      ...'launch launch/patient fhirUser patient/*.rs patient/*.read user/*.rs user/*.read'.split(' '),
      ...backend.scopes_supported,
    ],
    // No id_token, hence no sso-openid-connect; launch contexts carry a patient only.
    capabilities: [
      ...'launch-ehr launch-standalone client-public context-ehr-patient context-standalone-patient'.split(' '),
      ...'permission-patient permission-user'.split(' '),
      ...backend.capabilities,
    ],
  };
}

function sendOAuthError(res: Response, e: OAuthError, status = e.error === 'invalid_client' ? 401 : 400): void {
  res.status(status).set('Cache-Control', 'no-store').json({ error: e.error, error_description: e.description });
}

export interface OAuthRouteOptions {
  clients: RegisteredClient[];
  /** The service's public base URL, known once it listens: the token URL (assertion `aud`) is built from it. */
  publicUrl: () => string;
  tokens: AccessTokens;
  /** Where this router is mounted; default /auth. */
  mountPath?: string;
  /** Client assertion jtis already used (memory: the demo is one process). */
  replay?: ReplayCache;
  now?: () => number;
  /** SMART App Launch for public apps (authorize, authorization_code, demo launch); without it, not offered. */
  smart?: SmartAuthorizeOptions;
}

/** Checks a client assertion; returns the registered client it authenticates, or throws invalid_client. */
async function authenticateClient(assertion: string, o: OAuthRouteOptions, replay: ReplayCache) {
  const refuse = (why: string) => new OAuthError('invalid_client', why);
  let header: ReturnType<typeof decodeProtectedHeader>;
  let claims: ReturnType<typeof decodeJwt>;
  try {
    header = decodeProtectedHeader(assertion);
    claims = decodeJwt(assertion);
  } catch {
    throw refuse('client_assertion is not a JWT');
  }
  if (!ASSERTION_ALGORITHMS.includes(header.alg as never))
    throw refuse(`client_assertion must be signed with ${ASSERTION_ALGORITHMS.join(' or ')}`);
  if (!header.kid) throw refuse('client_assertion has no kid header');
  const client = o.clients.find((c) => c.clientId === claims.iss);
  if (!client || claims.sub !== claims.iss) throw refuse('unknown client, or iss and sub differ');
  const nowMs = o.now?.() ?? Date.now();
  let payload: Awaited<ReturnType<typeof jwtVerify>>['payload'];
  try {
    ({ payload } = await jwtVerify(assertion, createLocalJWKSet(client.jwks as never), {
      algorithms: [...ASSERTION_ALGORITHMS],
      issuer: client.clientId,
      subject: client.clientId,
      audience: tokenUrl(o.publicUrl(), o.mountPath),
      requiredClaims: ['exp', 'jti'],
      clockTolerance: CLOCK_TOLERANCE_S,
      currentDate: new Date(nowMs),
    }));
  } catch (err) {
    // jose's codes say which check failed (expired, audience, signature, no matching key); its messages echo no
    // secret, only claim names.
    const e = err as { code?: string; claim?: string };
    throw refuse(`client_assertion refused: ${e.code ?? 'invalid'}${e.claim ? ` (${e.claim})` : ''}`);
  }
  const exp = payload.exp!;
  if (exp * 1000 > nowMs + (MAX_ASSERTION_LIFETIME_S + CLOCK_TOLERANCE_S) * 1000)
    throw refuse('client_assertion exp is more than five minutes in the future');
  const jti = payload.jti;
  if (typeof jti !== 'string' || !jti || jti.length > 256) throw refuse('client_assertion needs a jti');
  // Claimed last, so that an assertion refused for another reason does not use up its jti.
  if (!replay.claimSync(client.clientId, jti, (exp + CLOCK_TOLERANCE_S) * 1000, nowMs))
    throw refuse('client_assertion jti was already used');
  return client;
}

type Form = Record<string, string | undefined>;
type Grant = (form: Form, o: OAuthRouteOptions, replay: ReplayCache) => Promise<Record<string, unknown>>;

/** Browser apps call the token endpoint (fhirclient): any origin, never credentials (cors.ts). */
const tokenCors = cors({
  methods: ['POST', 'OPTIONS'],
  allowHeaders: ['Content-Type', 'Authorization', 'Accept'],
  exposeHeaders: [],
  maxAgeSeconds: 600,
});

/** client_credentials with private_key_jwt (backend-services.html#request-access-token). */
const clientCredentials: Grant = async (form, o, replay) => {
  if (form.client_assertion_type !== JWT_BEARER)
    throw new OAuthError('invalid_request', `client_assertion_type must be ${JWT_BEARER}`);
  if (!form.client_assertion) throw new OAuthError('invalid_request', 'client_assertion is required');
  if (!form.scope) throw new OAuthError('invalid_request', 'scope is required');
  const client = await authenticateClient(form.client_assertion, o, replay);
  const scopes = grantScopes(form.scope, client.scope);
  if (!scopes.length) throw new OAuthError('invalid_scope', 'none of the requested scopes may be granted');
  const { accessToken, expiresIn } = o.tokens.issue(client.clientId, scopes);
  return { access_token: accessToken, token_type: 'bearer', expires_in: expiresIn, scope: scopes.join(' ') };
};

export function oauthRoutes(o: OAuthRouteOptions): Router {
  const replay = o.replay ?? new ReplayCache();
  const grants: Record<string, Grant> = { client_credentials: clientCredentials };
  const router = express.Router();
  // First, so that a preflight is answered before anything else.
  router.use('/token', tokenCors);
  router.use(express.urlencoded({ extended: false, limit: '64kb' }));
  if (o.smart) {
    const smart = smartAuthorize(o.smart, { publicUrl: o.publicUrl, tokens: o.tokens, now: o.now });
    grants.authorization_code = async (form) => smart.grant(form);
    router.use(smart.router);
  }
  router.post('/token', async (req: Request, res: Response) => {
    const body: Record<string, unknown> = req.is('application/x-www-form-urlencoded') && req.body ? req.body : {};
    try {
      // RFC 6749 §3.2: a parameter MUST NOT be sent more than once.
      const repeated = Object.keys(body).filter((k) => typeof body[k] !== 'string');
      if (repeated.length) throw new OAuthError('invalid_request', `repeated parameter ${repeated.join(', ')}`);
      const form = body as Form;
      const grant = Object.hasOwn(grants, form.grant_type ?? '') ? grants[form.grant_type!] : undefined;
      if (!form.grant_type) throw new OAuthError('invalid_request', 'grant_type is required');
      if (!grant) throw new OAuthError('unsupported_grant_type', `grant_type ${form.grant_type} is not supported`);
      // RFC 6749 §5.1: token responses are never cached.
      res
        .status(200)
        .set({ 'Cache-Control': 'no-store', Pragma: 'no-cache' })
        .json(await grant(form, o, replay));
    } catch (err) {
      if (!(err instanceof OAuthError)) throw err;
      sendOAuthError(res, err);
    }
  });
  router.all('/token', (_req, res) => {
    res.set('Allow', 'POST');
    sendOAuthError(res, new OAuthError('invalid_request', 'the token endpoint takes POST'), 405);
  });
  // Body-parser refusals as OAuth errors rather than the application's OperationOutcome.
  const onError: ErrorRequestHandler = (err, _req, res, next) => {
    const status = (err as { status?: number }).status;
    if (res.headersSent || !status || status >= 500) return next(err);
    sendOAuthError(res, new OAuthError('invalid_request', 'the request body could not be read'));
  };
  router.use(onError);
  return router;
}
