/**
 * Trusted JWT issuers (CDS clients, auditors' tools) from OSTEOWATCH_TRUSTED_CLIENTS: the path of a JSON file
 * `[{ "iss": "...", "jwks": {...} | "jwksUrl": "...", "tenant": "..." }]`.
 */
import { readFileSync } from 'node:fs';
import { createLocalJWKSet, createRemoteJWKSet, type JWTVerifyGetKey } from 'jose';
import { z } from 'zod';

const clientSchema = z
  .object({
    iss: z.string().min(1, { error: 'iss is required' }),
    jwks: z.object({ keys: z.array(z.record(z.string(), z.unknown())) }).optional(),
    jwksUrl: z.url({ error: 'jwksUrl must be a URL' }).optional(),
    tenant: z.string().optional(),
  })
  .refine((c) => !!c.jwks !== !!c.jwksUrl, { error: 'give exactly one of jwks or jwksUrl' });

export type TrustedClientConfig = z.infer<typeof clientSchema>;

export interface TrustedClient {
  iss: string;
  tenant?: string;
  /** The allow-listed JWK Set URL; a token's `jku` must equal it. */
  jwksUrl?: string;
  keys: JWTVerifyGetKey;
}

export class TrustedClientsError extends Error {}

export function parseTrustedClients(json: unknown, name = 'OSTEOWATCH_TRUSTED_CLIENTS'): TrustedClient[] {
  const parsed = z.array(clientSchema).safeParse(json);
  if (!parsed.success) {
    throw new TrustedClientsError(
      `${name}: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`,
    );
  }
  return parsed.data.map((c) => ({
    iss: c.iss,
    tenant: c.tenant,
    jwksUrl: c.jwksUrl,
    keys: c.jwks
      ? createLocalJWKSet(c.jwks as Parameters<typeof createLocalJWKSet>[0])
      : createRemoteJWKSet(new URL(c.jwksUrl!)),
  }));
}

export function loadTrustedClients(path: string | undefined): TrustedClient[] {
  if (!path) return [];
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new TrustedClientsError(
      `OSTEOWATCH_TRUSTED_CLIENTS: cannot read ${path} as JSON (${(err as Error).message})`,
    );
  }
  return parseTrustedClients(json, path);
}
