/**
 * CDS client authentication, CDS Hooks 2.0 "Trusting CDS Clients"
 * (https://cds-hooks.hl7.org/2.0/#trusting-cds-clients): a JWT in `Authorization: Bearer`, signed ES384 or
 * RS384 with `typ: JWT` and a `kid`, from an allow-listed `iss`; `aud` is the exact URL called; `exp`, `iat` and
 * `jti` are required, the token may live at most an hour (`exp − iat` ≤ 3600 s) and a `jti` is accepted once
 * (replayStore.ts: shared between instances when Redis or PostgreSQL is configured). Any failure is a 401 that
 * names its reason (checkCdsClient's CdsRefusal: "JWT aud … does not match …", "JWT iss … is not a trusted CDS
 * client", …), to the caller in an OperationOutcome and in the service log with the `iss`, never the token: a
 * client calling by another host name than the service's own (localhost for 127.0.0.1) otherwise cannot tell why
 * it is refused. The reasons describe the caller's own token against this endpoint and name no key, secret or
 * other client. Only when the replay store cannot be asked does checkCdsClient throw
 * ReplayStoreUnavailableError (503), since the token can then be neither accepted nor known bad.
 *
 * Where the keys come from. The spec lets a client publish its JWK Set at the URL in the `jku` header, or
 * exchange it out of band, and says services SHOULD allow-list `iss` and `jku`. Each trusted client is
 * registered one way:
 * - inline `jwks` (the keys were exchanged out of band): the signature is checked against those pinned keys
 *   only, and a `jku` header, whatever it says, is never fetched and is no reason to refuse. The CDS Hooks
 *   Sandbox always sends `jku: https://sandbox.cds-hooks.org/.well-known/jwks.json`, and a service that pins
 *   its keys has no need to trust that URL.
 * - `jwksUrl`: that URL is the only one ever fetched; a `jku` that differs from it is refused. Fetching a URL
 *   named by the token itself would let any token bring its own keys.
 */
import { decodeJwt, decodeProtectedHeader, type JWTPayload, jwtVerify } from 'jose';
import { MAX_TOKEN_LIFETIME_S, type ReplayStore, ReplayStoreUnavailableError } from './replayStore.ts';
import type { TrustedClient } from './trustedClients.ts';

export { ReplayCache, type ReplayStore, ReplayStoreUnavailableError } from './replayStore.ts';

export interface CdsClient {
  iss: string;
  tenant?: string;
}

const ALGORITHMS = ['ES384', 'RS384'];
/** Accepted clock skew, seconds; a jti is remembered for as long as its token is accepted: exp + this. */
const CLOCK_TOLERANCE_S = 30;
/** A jti longer than this is refused (it is hashed when stored, but need not be big). */
const MAX_JTI_LENGTH = 256;

export interface CdsAuthOptions {
  trustedClients: TrustedClient[];
  /** Where jtis are remembered: ReplayCache (memory), or a shared store (replayStore.ts). */
  replay: ReplayStore;
  now?: () => number;
}

/** Why a call was refused: `reason` is for the caller and the log; `iss` (as the token claims it) for the log. */
export interface CdsRefusal {
  reason: string;
  iss?: string;
}

export type CdsVerdict = { client: CdsClient } | { refused: CdsRefusal };

/** A value taken from the token, as it may be shown in a reason: one line, at most 200 characters. */
function shown(value: unknown): string {
  const text = (typeof value === 'string' ? value : (JSON.stringify(value) ?? String(value))).replace(/\p{Cc}/gu, '?');
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}

/** The reason of a failure jose reports while verifying (signature first, then the claims). */
function joseReason(err: unknown, audience: string, kid: string): string {
  const e = err as { code?: string; claim?: string; payload?: { aud?: unknown; exp?: unknown } };
  switch (e.code) {
    case 'ERR_JWKS_NO_MATCHING_KEY':
      return `JWT kid ${shown(kid)} names no key registered for its iss`;
    case 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED':
      return `JWT signature does not verify with the key registered for its iss under kid ${shown(kid)}`;
    case 'ERR_JWKS_TIMEOUT':
    case 'ERR_JWKS_INVALID':
      return 'The JWK Set registered for the JWT iss could not be fetched';
    case 'ERR_JWT_EXPIRED':
      return typeof e.payload?.exp === 'number'
        ? `JWT expired at ${new Date(e.payload.exp * 1000).toISOString()} (exp)`
        : 'JWT expired (exp)';
    case 'ERR_JWT_CLAIM_VALIDATION_FAILED':
      if (e.claim === 'aud')
        return `JWT aud ${e.payload?.aud === undefined ? '(none)' : shown(e.payload.aud)} does not match ${audience}: aud must be the exact URL called`;
      if (e.claim === 'typ') return 'JWT header typ must be JWT';
      return `JWT ${shown((err as Error).message)}`;
    default:
      return `The JWT could not be verified (${shown(e.code ?? (err as Error).name)})`;
  }
}

/**
 * The trusted client calling, or why the call is refused. `audience` is the exact URL called as this service
 * knows it (OSTEOWATCH_PUBLIC_URL + path).
 */
export async function checkCdsClient(
  authorization: string | undefined,
  audience: string,
  o: CdsAuthOptions,
): Promise<CdsVerdict> {
  const refuse = (reason: string, iss?: unknown): CdsVerdict => ({
    refused: { reason, ...(typeof iss === 'string' ? { iss: shown(iss) } : {}) },
  });
  if (!authorization?.trim())
    return refuse('No client JWT: a CDS Hooks call carries Authorization: Bearer <JWT> signed by a trusted client');
  const m = /^Bearer\s+([A-Za-z0-9\-_]+\.[A-Za-z0-9\-_]+\.[A-Za-z0-9\-_]+)$/i.exec(authorization.trim());
  if (!m) return refuse('The Authorization header is not Bearer <JWT> (a compact JWS)');
  const token = m[1]!;
  let iss: unknown;
  try {
    const header = decodeProtectedHeader(token);
    iss = decodeJwt(token).iss;
    if (!header.alg || !ALGORITHMS.includes(header.alg))
      return refuse(`JWT alg ${shown(header.alg ?? '(none)')} is not accepted: ES384 or RS384`, iss);
    if (!header.kid) return refuse('JWT header has no kid', iss);
    const client = o.trustedClients.find((c) => c.iss === iss);
    if (!client) return refuse(`JWT iss ${iss === undefined ? '(none)' : shown(iss)} is not a trusted CDS client`, iss);
    // Inline keys: `jku` is ignored (never fetched). Registered jwksUrl: `jku`, when sent, must be exactly it.
    if (client.jwksUrl !== undefined && header.jku !== undefined && header.jku !== client.jwksUrl)
      return refuse(`JWT jku ${shown(header.jku)} is not the JWK Set URL registered for its iss`, iss);
    const nowMs = o.now?.() ?? Date.now();
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, client.keys, {
        issuer: client.iss,
        audience,
        algorithms: ALGORITHMS,
        // CDS Hooks: the header's typ is "JWT" (jose compares it as a media type: case-insensitively).
        typ: 'JWT',
        requiredClaims: ['exp', 'iat', 'jti'],
        maxTokenAge: MAX_TOKEN_LIFETIME_S,
        clockTolerance: CLOCK_TOLERANCE_S,
        currentDate: new Date(nowMs),
      }));
    } catch (err) {
      return refuse(joseReason(err, audience, header.kid), iss);
    }
    const iat = payload.iat ?? 0;
    const exp = payload.exp ?? 0;
    if (iat * 1000 > nowMs + 60_000) return refuse('JWT iat is in the future', iss);
    // A token may live at most an hour, so that its jti need be kept at most that long.
    if (exp - iat > MAX_TOKEN_LIFETIME_S)
      return refuse(`JWT lives ${exp - iat} s (exp − iat), more than ${MAX_TOKEN_LIFETIME_S} s`, iss);
    const jti = payload.jti;
    if (typeof jti !== 'string' || jti.length === 0 || jti.length > MAX_JTI_LENGTH)
      return refuse(`JWT jti must be a string of 1 to ${MAX_JTI_LENGTH} characters`, iss);
    const tenant = typeof payload.tenant === 'string' ? payload.tenant : undefined;
    if (client.tenant && tenant && tenant !== client.tenant)
      return refuse(`JWT tenant ${shown(tenant)} is not the tenant registered for its iss`, iss);
    // Claimed last: a token refused for any other reason does not use up its jti.
    if (!(await o.replay.claim(client.iss, jti, (exp + CLOCK_TOLERANCE_S) * 1000, nowMs)))
      return refuse('JWT jti was already used: a token is accepted once', iss);
    return { client: { iss: client.iss, tenant: tenant ?? client.tenant } };
  } catch (err) {
    // The replay store cannot tell: refuse with 503 (the caller may retry), never accept.
    if (err instanceof ReplayStoreUnavailableError) throw err;
    return refuse('The bearer token is not a readable JWT', iss);
  }
}

/** The trusted client calling, or undefined when the call is refused (checkCdsClient says why). */
export async function verifyCdsClient(
  authorization: string | undefined,
  audience: string,
  o: CdsAuthOptions,
): Promise<CdsClient | undefined> {
  const verdict = await checkCdsClient(authorization, audience, o);
  return 'client' in verdict ? verdict.client : undefined;
}
