/**
 * Trusted JWT issuers (CDS clients, auditors' tools) from OSTEOWATCH_TRUSTED_CLIENTS: the path of a JSON file
 * `[{ "iss": "...", "jwks": {...} | "jwksUrl": "...", "tenant": "...", "note": "..." }]`. `jwks` pins the keys
 * (a token's `jku` is then never fetched); `jwksUrl` is the one URL keys are fetched from. `note` is free text
 * for the reader of the file (JSON has no comments), e.g. why a client is trusted; it changes nothing. `uses`
 * limits what an issuer is trusted for (default: all): a development-only issuer such as the CDS Hooks Sandbox,
 * whose private key is public, must be trusted for CDS calls only, never for the audit API or imaging ingest.
 * Unknown fields are refused, so that a misspelt `uses` cannot silently widen the trust.
 */
import { readFileSync } from 'node:fs';
import { createLocalJWKSet, createRemoteJWKSet, type JWTVerifyGetKey } from 'jose';
import { z } from 'zod';
import { OsteoWatchError, zodMessage } from '../errors.ts';

/** What a trusted issuer's tokens may be used for: CDS Hooks calls, the audit API, imaging findings ingest. */
export const TRUST_USES = ['cds-hooks', 'audit', 'imaging'] as const;
export type TrustUse = (typeof TRUST_USES)[number];

const clientSchema = z
  .object({
    iss: z.string().min(1, { error: 'iss is required' }),
    jwks: z.object({ keys: z.array(z.record(z.string(), z.unknown())) }).optional(),
    jwksUrl: z.url({ error: 'jwksUrl must be a URL' }).optional(),
    tenant: z.string().optional(),
    note: z.string().optional(),
    uses: z
      .array(z.enum(TRUST_USES, { error: `uses must list some of ${TRUST_USES.join(', ')}` }))
      .min(1)
      .default([...TRUST_USES]),
  })
  .strict()
  .refine((c) => !!c.jwks !== !!c.jwksUrl, { error: 'give exactly one of jwks or jwksUrl' });

export type TrustedClientConfig = z.infer<typeof clientSchema>;

export interface TrustedClient {
  iss: string;
  tenant?: string;
  /**
   * The registered JWK Set URL, the only one keys are fetched from; a token's `jku`, when sent, must equal it.
   * Undefined when the keys are inline: then `jku` is ignored and never fetched.
   */
  jwksUrl?: string;
  keys: JWTVerifyGetKey;
  uses: readonly TrustUse[];
}

/** The clients trusted for one use. */
export const trustedFor = (clients: readonly TrustedClient[], use: TrustUse): TrustedClient[] =>
  clients.filter((c) => c.uses.includes(use));

export class TrustedClientsError extends OsteoWatchError {
  constructor(message: string) {
    super('config', message);
  }
}

export function parseTrustedClients(json: unknown, name = 'OSTEOWATCH_TRUSTED_CLIENTS'): TrustedClient[] {
  const parsed = z.array(clientSchema).safeParse(json);
  if (!parsed.success) {
    throw new TrustedClientsError(`${name}: ${zodMessage(parsed.error)}`);
  }
  return parsed.data.map((c) => ({
    iss: c.iss,
    tenant: c.tenant,
    jwksUrl: c.jwksUrl,
    uses: c.uses,
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
