/**
 * How OsteoWatch authenticates to a FHIR server it reads: nothing, a configured bearer token, or SMART Backend
 * Services (https://hl7.org/fhir/smart-app-launch/backend-services.html): a client_credentials grant with a JWT
 * client assertion signed RS384 or ES384 by our private key, the token endpoint discovered from
 * [fhir base]/.well-known/smart-configuration unless configured. The access token is cached until shortly before
 * it expires; concurrent callers share one token request. Tokens and assertions never appear in an error message
 * or a log: messages name the endpoint and the OAuth error code only.
 */
import { randomUUID } from 'node:crypto';
import { importJWK, type JWK, SignJWT } from 'jose';
import { isRefusal, networkReason, OsteoWatchError, RefusedError } from '../errors.ts';
import { isLoopbackUrl } from './loopback.ts';
import { FhirFetchError, FhirTimeoutError } from './patientRecords.ts';

export interface FhirAuth {
  /** The Authorization header value, or undefined to send none. */
  header(): Promise<string | undefined>;
  /** Forget a cached token (the server answered 401 with it), so that the next header() asks for a new one. */
  invalidate?(): void;
}

export const noAuth: FhirAuth = { header: async () => undefined };

export function staticBearer(token: string): FhirAuth {
  return { header: async () => `Bearer ${token}` };
}

export interface BackendServicesOptions {
  fhirBaseUrl: string;
  clientId: string;
  /** The client's private key as a JWK, with its `kid` and `alg` (RS384 or ES384). */
  privateJwk: JWK;
  /** Space-separated, e.g. "system/Patient.rs system/Condition.rs". */
  scope: string;
  /** The token endpoint; discovered from the FHIR server's smart-configuration when absent. */
  tokenUrl?: string;
  fetch?: typeof fetch;
  /** ms since the epoch. */
  now?: () => number;
  /** Per request to the token endpoint or the discovery document, ms. */
  timeoutMs?: number;
}

const ALGORITHMS = ['RS384', 'ES384'];
/** The assertion lives well within the five minutes the spec allows (backend-services.html#protocol-details). */
const ASSERTION_LIFETIME_S = 240;
/** A token is renewed this long before it expires, so that it does not expire in flight. */
const RENEW_MARGIN_S = 30;

/** The token endpoint must be https: the assertion and token cross it. Loopback is allowed for tests and demos. */
function checkTokenUrl(url: string, configured: boolean): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new OsteoWatchError(configured ? 'config' : 'upstream', `the token endpoint is not a URL: ${url}`);
  }
  if (u.protocol !== 'https:' && !(u.protocol === 'http:' && isLoopbackUrl(url)))
    throw new OsteoWatchError(
      configured ? 'config' : 'upstream',
      `refusing to send a client assertion to ${u.origin}: the token endpoint must be https (or loopback)`,
    );
  return u.toString();
}

type Transport = Pick<BackendServicesOptions, 'fetch' | 'timeoutMs'>;

async function send(url: string, init: RequestInit, o: Transport, what: string): Promise<Response> {
  const timeoutMs = o.timeoutMs ?? 10_000;
  try {
    return await (o.fetch ?? globalThis.fetch)(url, { ...init, signal: AbortSignal.timeout(timeoutMs) });
  } catch (err) {
    if ((err as Error).name === 'TimeoutError')
      throw new FhirTimeoutError(`${what} did not answer within ${timeoutMs} ms`);
    throw new FhirFetchError(`${what} could not be reached: ${networkReason(err)}`);
  }
}

/** The token endpoint from [fhir base]/.well-known/smart-configuration (smart-app-launch conformance.html). */
export async function discoverTokenUrl(fhirBaseUrl: string, o: Transport = {}): Promise<string> {
  const url = `${fhirBaseUrl.replace(/\/+$/, '')}/.well-known/smart-configuration`;
  const what = `the SMART configuration at ${url}`;
  const res = await send(url, { headers: { accept: 'application/json' } }, o, what);
  if (!res.ok) throw new FhirFetchError(`${what} answered HTTP ${res.status}`);
  const doc = (await res.json().catch(() => undefined)) as { token_endpoint?: unknown } | undefined;
  if (typeof doc?.token_endpoint !== 'string') throw new FhirFetchError(`${what} names no token_endpoint`);
  return checkTokenUrl(doc.token_endpoint, false);
}

/** RFC 6749 §5.2 error code and description, shortened: the server's words, never our token. */
async function refusal(res: Response): Promise<string> {
  const body = (await res.json().catch(() => undefined)) as
    | { error?: unknown; error_description?: unknown }
    | undefined;
  const code = typeof body?.error === 'string' ? body.error.slice(0, 64) : `HTTP ${res.status}`;
  const text = typeof body?.error_description === 'string' ? `: ${body.error_description.slice(0, 200)}` : '';
  return `${code}${text}`;
}

export function backendServicesAuth(o: BackendServicesOptions): FhirAuth {
  const now = o.now ?? Date.now;
  const alg = String(o.privateJwk.alg ?? '');
  if (!ALGORITHMS.includes(alg))
    throw new OsteoWatchError('config', `the backend services key must have alg RS384 or ES384, not "${alg}"`);
  if (!o.privateJwk.kid) throw new OsteoWatchError('config', 'the backend services key has no kid');
  let tokenUrl = o.tokenUrl === undefined ? undefined : checkTokenUrl(o.tokenUrl, true);
  let cached: { header: string; renewAt: number } | undefined;
  let inFlight: Promise<string> | undefined;

  async function requestToken(): Promise<string> {
    tokenUrl ??= await discoverTokenUrl(o.fhirBaseUrl, o);
    const url = tokenUrl;
    const key = await importJWK(o.privateJwk, alg);
    const issuedAt = Math.floor(now() / 1000);
    // https://hl7.org/fhir/smart-app-launch/backend-services.html#protocol-details: iss = sub = client_id,
    // aud = the token URL, exp at most five minutes ahead, a jti never reused, kid in the header.
    const assertion = await new SignJWT({})
      .setProtectedHeader({ alg, kid: o.privateJwk.kid!, typ: 'JWT' })
      .setIssuer(o.clientId)
      .setSubject(o.clientId)
      .setAudience(url)
      .setIssuedAt(issuedAt)
      .setExpirationTime(issuedAt + ASSERTION_LIFETIME_S)
      .setJti(randomUUID())
      .sign(key);
    const body = new URLSearchParams({
      grant_type: 'client_credentials',
      scope: o.scope,
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
      client_assertion: assertion,
    });
    const what = `the token endpoint ${new URL(url).origin}${new URL(url).pathname}`;
    const res = await send(
      url,
      {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
        body,
      },
      o,
      what,
    );
    if (!res.ok) {
      const why = `${what} refused client ${o.clientId}: ${await refusal(res)}`;
      // invalid_client, unauthorized_client, invalid_scope: the registration is wrong, not the moment.
      throw isRefusal(res.status) ? new RefusedError(why) : new FhirFetchError(why);
    }
    const token = (await res.json().catch(() => undefined)) as
      | { access_token?: unknown; token_type?: unknown; expires_in?: unknown }
      | undefined;
    if (typeof token?.access_token !== 'string' || !token.access_token)
      throw new FhirFetchError(`${what} answered without an access_token`);
    if (typeof token.token_type !== 'string' || token.token_type.toLowerCase() !== 'bearer')
      throw new FhirFetchError(`${what} issued a token of type "${String(token.token_type)}", not bearer`);
    const expiresIn = typeof token.expires_in === 'number' && token.expires_in > 0 ? token.expires_in : 300;
    const header = `Bearer ${token.access_token}`;
    // Renew RENEW_MARGIN_S before expiry, or at half-life for a token shorter than twice that.
    cached = { header, renewAt: now() + Math.max(expiresIn / 2, expiresIn - RENEW_MARGIN_S) * 1000 };
    return header;
  }

  return {
    async header() {
      if (cached && now() < cached.renewAt) return cached.header;
      inFlight ??= requestToken().finally(() => {
        inFlight = undefined;
      });
      return inFlight;
    },
    invalidate() {
      cached = undefined;
    },
  };
}

export interface FetchOptions {
  auth: FhirAuth;
  timeoutMs?: number;
  signal?: AbortSignal;
  headers?: Record<string, string>;
  /** A request body (a string: sent again as it is when a 401 is retried with a fresh token). */
  body?: string;
}

/**
 * One request to a FHIR server with `auth`'s Authorization header and a timeout (Infinity: none, for a body that
 * streams for long); a 401 is retried once with a fresh token when the auth can renew. Errors name `what`, never
 * the token.
 */
export async function authorizedFetch(method: string, url: string, o: FetchOptions, what: string): Promise<Response> {
  const timeoutMs = o.timeoutMs ?? 30_000;
  for (let attempt = 0; ; attempt++) {
    const authorization = await o.auth.header();
    const own = Number.isFinite(timeoutMs) ? AbortSignal.timeout(timeoutMs) : undefined;
    const signals = [own, o.signal].filter((s) => s !== undefined);
    let res: Response;
    try {
      res = await fetch(url, {
        method,
        headers: { ...o.headers, ...(authorization ? { authorization } : {}) },
        ...(o.body !== undefined ? { body: o.body } : {}),
        signal: signals.length ? AbortSignal.any(signals) : undefined,
      });
    } catch (err) {
      if (own?.aborted) throw new FhirTimeoutError(`${what}: no answer within ${timeoutMs} ms`);
      if (o.signal?.aborted) throw new OsteoWatchError('unavailable', `${what}: cancelled`);
      throw new FhirFetchError(`${what}: ${networkReason(err)}`);
    }
    if (res.status !== 401 || attempt > 0 || !o.auth.invalidate) return res;
    await res.body?.cancel();
    o.auth.invalidate();
  }
}
