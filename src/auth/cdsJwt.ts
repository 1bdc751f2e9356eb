/**
 * CDS client authentication, CDS Hooks 2.0 "Trusting CDS Clients"
 * (https://cds-hooks.hl7.org/2.0/#trusting-cds-clients): a JWT in `Authorization: Bearer`, signed ES384 or
 * RS384 with a `kid`, from an allow-listed `iss`; `aud` is the exact URL called; `exp`, `iat` and `jti` are
 * required and a `jti` is accepted once. Any failure is a bare 401: the caller is told nothing.
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
import type { TrustedClient } from './trustedClients.ts';

export interface CdsClient {
  iss: string;
  tenant?: string;
}

const ALGORITHMS = ['ES384', 'RS384'];
const MAX_AGE_S = 3600;

/** Remembers each (iss, jti) until its token expires, so that a captured token cannot be replayed. */
export class ReplayCache {
  private readonly seen = new Map<string, number>();
  private readonly max: number;
  constructor(max = 100_000) {
    this.max = max;
  }
  /** True the first time; false for a replay. */
  claim(key: string, expiresAtMs: number, nowMs: number): boolean {
    if (this.seen.size >= this.max) {
      for (const [k, exp] of this.seen) if (exp <= nowMs) this.seen.delete(k);
      if (this.seen.size >= this.max) return false; // refuse rather than forget: fail closed
    }
    const prior = this.seen.get(key);
    if (prior !== undefined && prior > nowMs) return false;
    this.seen.set(key, expiresAtMs);
    return true;
  }
}

export interface CdsAuthOptions {
  trustedClients: TrustedClient[];
  replay: ReplayCache;
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
      requiredClaims: ['exp', 'iat', 'jti'],
      maxTokenAge: MAX_AGE_S,
      clockTolerance: 30,
      currentDate: new Date(nowMs),
    });
    if ((payload.iat ?? 0) * 1000 > nowMs + 60_000) return undefined;
    const tenant = typeof payload.tenant === 'string' ? payload.tenant : undefined;
    if (client.tenant && tenant && tenant !== client.tenant) return undefined;
    if (!o.replay.claim(`${client.iss}|${payload.jti}`, (payload.exp ?? 0) * 1000, nowMs)) return undefined;
    return { iss: client.iss, tenant: tenant ?? client.tenant };
  } catch {
    return undefined;
  }
}
