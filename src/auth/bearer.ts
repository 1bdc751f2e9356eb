/**
 * Bearer authorisation for the audit API: a static token from configuration, or a JWT signed by a trusted
 * issuer (ES384/RS384, exp and iat required, aud = the audit endpoint) whose scope includes "audit".
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { decodeJwt, jwtVerify } from 'jose';
import type { TrustedClient } from './trustedClients.ts';

export interface Principal {
  /** Who asked, for the audit record: "static-token" or "<iss>|<sub>". Never the token itself. */
  actor: string;
  tenant?: string;
}

export interface BearerOptions {
  staticToken?: string;
  trustedClients: TrustedClient[];
  /** The exact `aud` a JWT must carry. */
  audience: string;
  requiredScope: string;
}

const digest = (s: string): Buffer => createHash('sha256').update(s).digest();

function bearerToken(header: string | undefined): string | undefined {
  const m = /^Bearer\s+([A-Za-z0-9\-._~+/]+=*)$/i.exec(header?.trim() ?? '');
  return m?.[1];
}

/** Whether the Authorization header carries exactly `token` as a bearer token (compared in constant time). */
export function hasStaticToken(header: string | undefined, token: string): boolean {
  const sent = bearerToken(header);
  return !!sent && timingSafeEqual(digest(sent), digest(token));
}

const LOOPBACK = /^(127\.\d{1,3}\.\d{1,3}\.\d{1,3}|::1|::ffff:127\.\d{1,3}\.\d{1,3}\.\d{1,3})$/;

/**
 * A request made on this host directly: the peer is loopback and no proxy forwarded it (a reverse proxy on the
 * same host connects from loopback too, and says so with Forwarded / X-Forwarded-For).
 */
export function isDirectLoopback(remoteAddress: string | undefined, headers: Record<string, unknown>): boolean {
  return (
    LOOPBACK.test(remoteAddress ?? '') &&
    headers.forwarded === undefined &&
    headers['x-forwarded-for'] === undefined &&
    headers['x-real-ip'] === undefined
  );
}

/** Returns the principal, or undefined when the caller is not authorised (the reason is deliberately not told). */
export async function authorise(header: string | undefined, o: BearerOptions): Promise<Principal | undefined> {
  const token = bearerToken(header);
  if (!token) return undefined;
  if (o.staticToken && timingSafeEqual(digest(token), digest(o.staticToken))) return { actor: 'static-token' };
  if (!token.includes('.')) return undefined;
  let iss: string | undefined;
  try {
    iss = decodeJwt(token).iss;
  } catch {
    return undefined;
  }
  const client = o.trustedClients.find((c) => c.iss === iss);
  if (!client) return undefined;
  try {
    const { payload } = await jwtVerify(token, client.keys, {
      issuer: client.iss,
      audience: o.audience,
      algorithms: ['ES384', 'RS384'],
      requiredClaims: ['exp', 'iat'],
      maxTokenAge: '1h',
    });
    const scopes = typeof payload.scope === 'string' ? payload.scope.split(/\s+/) : [];
    if (!scopes.includes(o.requiredScope)) return undefined;
    return { actor: `${client.iss}|${payload.sub ?? ''}`, tenant: client.tenant };
  } catch {
    return undefined;
  }
}
