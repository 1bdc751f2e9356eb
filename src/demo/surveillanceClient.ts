/**
 * The demo's own cohort surveillance client: a SMART Backend Services client
 * (https://hl7.org/fhir/smart-app-launch/backend-services.html) whose ES384 key pair is generated on first start
 * and kept in the data directory (mode 0600, like the demo CDS client's, src/cdsHooks/demoClient.ts). Its public
 * key is registered with the demo token endpoint (src/server/oauthRoutes.ts); its private key signs the client
 * assertions of backendServicesAuth (src/fhir/fhirAuth.ts) when OsteoWatch reads the cohort by Bulk Data export.
 */
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { exportJWK, generateKeyPair, type JWK } from 'jose';

export const SURVEILLANCE_CLIENT_ID = 'osteowatch-surveillance';
/** What surveillance reads: everything of the cohort, read and search only (SMART v2 `rs`). */
export const SURVEILLANCE_SCOPE = 'system/*.rs';
const FILE = 'surveillance-client.jwk.json';

export interface SurveillanceClientKey {
  /** With kid and alg ES384: what backendServicesAuth takes. */
  privateJwk: JWK;
  /** With kid, alg and use sig: what the token endpoint registers. */
  publicJwk: JWK;
}

export const surveillanceClientFile = (dataDir: string): string => join(dataDir, FILE);

/** The key pair from the data directory, generated and written there the first time. */
export async function ensureSurveillanceClientKey(dataDir: string): Promise<SurveillanceClientKey> {
  const file = surveillanceClientFile(dataDir);
  if (existsSync(file)) return JSON.parse(readFileSync(file, 'utf8')) as SurveillanceClientKey;
  const { privateKey, publicKey } = await generateKeyPair('ES384', { extractable: true });
  const kid = randomUUID();
  const key: SurveillanceClientKey = {
    privateJwk: { ...(await exportJWK(privateKey)), kid, alg: 'ES384' },
    publicJwk: { ...(await exportJWK(publicKey)), kid, alg: 'ES384', use: 'sig' },
  };
  mkdirSync(dataDir, { recursive: true });
  writeFileSync(file, `${JSON.stringify(key, null, 2)}\n`, { mode: 0o600 });
  return key;
}

/** The client as the demo token endpoint registers it (oauthRoutes.ts RegisteredClient). */
export function surveillanceClientRegistration(key: SurveillanceClientKey): {
  clientId: string;
  jwks: { keys: JWK[] };
  scope: string;
} {
  return { clientId: SURVEILLANCE_CLIENT_ID, jwks: { keys: [key.publicJwk] }, scope: SURVEILLANCE_SCOPE };
}
