/**
 * The demo's own CDS client: an ES384 key pair generated on first start and kept in the data directory
 * (private key mode 0600), trusted by the demo service, and used by `osteowatch hook …` to sign real requests.
 */
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { exportJWK, generateKeyPair, importJWK, type JWK, SignJWT } from 'jose';

export const DEMO_CLIENT_ISS = 'urn:osteowatch:demo-client';
const FILE = 'demo-cds-client.jwk.json';

export interface DemoClientKey {
  privateJwk: JWK;
  publicJwk: JWK;
}

export function demoClientFile(dataDir: string): string {
  return join(dataDir, FILE);
}

export async function ensureDemoClientKey(dataDir: string): Promise<DemoClientKey> {
  const file = demoClientFile(dataDir);
  if (existsSync(file)) return JSON.parse(readFileSync(file, 'utf8')) as DemoClientKey;
  const { privateKey, publicKey } = await generateKeyPair('ES384', { extractable: true });
  const kid = randomUUID();
  const key: DemoClientKey = {
    privateJwk: { ...(await exportJWK(privateKey)), kid, alg: 'ES384' },
    publicJwk: { ...(await exportJWK(publicKey)), kid, alg: 'ES384', use: 'sig' },
  };
  mkdirSync(dataDir, { recursive: true });
  writeFileSync(file, `${JSON.stringify(key, null, 2)}\n`, { mode: 0o600 });
  return key;
}

export function readDemoClientKey(dataDir: string): DemoClientKey | undefined {
  const file = demoClientFile(dataDir);
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as DemoClientKey) : undefined;
}

/** A CDS Hooks client JWT for one call: aud is the exact URL called. */
export async function signClientJwt(key: DemoClientKey, aud: string, iss = DEMO_CLIENT_ISS): Promise<string> {
  const pk = await importJWK(key.privateJwk, 'ES384');
  return new SignJWT({})
    .setProtectedHeader({ alg: 'ES384', typ: 'JWT', kid: key.privateJwk.kid! })
    .setIssuer(iss)
    .setAudience(aud)
    .setIssuedAt()
    .setExpirationTime('5m')
    .setJti(randomUUID())
    .sign(pk);
}
