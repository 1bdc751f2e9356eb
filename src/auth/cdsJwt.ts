/**
 * CDS client authentication, CDS Hooks 2.0 "Trusting CDS Clients"
 * (https://cds-hooks.hl7.org/2.0/#trusting-cds-clients): a JWT in `Authorization: Bearer`, signed ES384 or
 * RS384 with `typ: JWT` and a `kid`, from an allow-listed `iss`; `aud` is the exact URL called; `exp`, `iat` and
 * `jti` are required, the token may live at most an hour (`exp − iat` ≤ 3600 s) and a `jti` is accepted once
 * (replayStore.ts: shared between instances when Redis or PostgreSQL is configured). Any failure is a bare 401:
 * the caller is told nothing; only when the replay store cannot be asked does verifyCdsClient throw
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
import { decodeJwt, decodeProtectedHeader, jwtVerify } from 'jose';
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

export async function verifyCdsClient(
  authorization: string | undefined,
  audience: string,
  o: CdsAuthOptions,
): Promise<CdsClient | undefined> {
  const m = /^Bearer\s+([A-Za-z0-9\-_]+\.[A-Za-z0-9\-_]+\.[A-Za-z0-9\-_]+)$/i.exec(authorization?.trim() ?? '');
  if (!m) return undefined;
  const token = m[1]!;
  try {
    const header = decodeProtectedHeader(token);
    if (!header.alg || !ALGORITHMS.includes(header.alg) || !header.kid) return undefined;
    const iss = decodeJwt(token).iss;
    const client = o.trustedClients.find((c) => c.iss === iss);
    if (!client) return undefined;
    // Inline keys: `jku` is ignored (never fetched). Registered jwksUrl: `jku`, when sent, must be exactly it.
    if (client.jwksUrl !== undefined && header.jku !== undefined && header.jku !== client.jwksUrl) return undefined;
    const nowMs = o.now?.() ?? Date.now();
    const { payload } = await jwtVerify(token, client.keys, {
      issuer: client.iss,
      audience,
      algorithms: ALGORITHMS,
      // CDS Hooks: the header's typ is "JWT" (jose compares it as a media type: case-insensitively).
      typ: 'JWT',
      requiredClaims: ['exp', 'iat', 'jti'],
      maxTokenAge: MAX_TOKEN_LIFETIME_S,
      clockTolerance: CLOCK_TOLERANCE_S,
      currentDate: new Date(nowMs),
    });
    const iat = payload.iat ?? 0;
    const exp = payload.exp ?? 0;
    if (iat * 1000 > nowMs + 60_000) return undefined;
    // A token may live at most an hour, so that its jti need be kept at most that long.
    if (exp - iat > MAX_TOKEN_LIFETIME_S) return undefined;
    const jti = payload.jti;
    if (typeof jti !== 'string' || jti.length === 0 || jti.length > MAX_JTI_LENGTH) return undefined;
    const tenant = typeof payload.tenant === 'string' ? payload.tenant : undefined;
    if (client.tenant && tenant && tenant !== client.tenant) return undefined;
    // Claimed last: a token refused for any other reason does not use up its jti.
    if (!(await o.replay.claim(client.iss, jti, (exp + CLOCK_TOLERANCE_S) * 1000, nowMs))) return undefined;
    return { iss: client.iss, tenant: tenant ?? client.tenant };
  } catch (err) {
    // The replay store cannot tell: refuse with 503 (the caller may retry), never accept.
    if (err instanceof ReplayStoreUnavailableError) throw err;
    return undefined;
  }
}
