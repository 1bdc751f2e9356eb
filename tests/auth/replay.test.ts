/**
 * CDS client JWT replay protection (src/auth/replayStore.ts, cdsJwt.ts): typ JWT required, at most an hour of
 * lifetime, a per-client bound (one client filling its share does not lock out the others), a jti shared between
 * instances through Redis or PostgreSQL, and fail-closed when Redis cannot be reached.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { createServer } from 'node:net';
import { type CryptoKey, exportJWK, generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyCdsClient } from '../../src/auth/cdsJwt.ts';
import {
  DbReplayStore,
  RedisReplayStore,
  ReplayCache,
  type ReplayStore,
  ReplayStoreUnavailableError,
} from '../../src/auth/replayStore.ts';
import { parseTrustedClients, type TrustedClient } from '../../src/auth/trustedClients.ts';
import { type Db, openDb } from '../../src/store/db.ts';
import { describeWithTool, SYSTEM_TOOLS } from '../helpers/systemTools.ts';

const AUD = 'https://cds.example/cds-services/osteonecrosis-screening';
// The Redis the shared-store tests need (tests/helpers/systemTools.ts): they are skipped, and the summary says
// so, when nothing listens there; OSTEOWATCH_REQUIRE_TOOLS=redis makes its absence a failure.
const REDIS_URL = `redis://${SYSTEM_TOOLS.redis.service.host}:${SYSTEM_TOOLS.redis.service.port}`;
let key: CryptoKey;
let clients: TrustedClient[];
const iss = (n: number) => `https://ehr-${n}.example`;

beforeAll(async () => {
  const pair = await generateKeyPair('ES384');
  key = pair.privateKey as CryptoKey;
  const jwk = { ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'ES384' };
  clients = parseTrustedClients([1, 2].map((n) => ({ iss: iss(n), jwks: { keys: [jwk] } })));
});

async function token(
  o: { iss?: string; typ?: string | null; lifetimeS?: number; jti?: string; iatOffsetS?: number } = {},
) {
  const iat = Math.floor(Date.now() / 1000) + (o.iatOffsetS ?? 0);
  const header: Record<string, unknown> = { alg: 'ES384', kid: 'k1' };
  if (o.typ !== null) header.typ = o.typ ?? 'JWT';
  return new SignJWT({ jti: o.jti ?? randomUUID() })
    .setProtectedHeader(header as { alg: string })
    .setIssuer(o.iss ?? iss(1))
    .setAudience(AUD)
    .setIssuedAt(iat)
    .setExpirationTime(iat + (o.lifetimeS ?? 300))
    .sign(key);
}
const verify = async (t: string, replay: ReplayStore) =>
  verifyCdsClient(`Bearer ${t}`, AUD, { trustedClients: clients, replay });

describe('CDS client JWT header and lifetime', () => {
  it('requires typ JWT in the header', async () => {
    const replay = new ReplayCache();
    expect(await verify(await token({ typ: null }), replay)).toBeUndefined();
    expect(await verify(await token({ typ: 'at+jwt' }), replay)).toBeUndefined();
    expect(await verify(await token(), replay)).toEqual({ iss: iss(1), tenant: undefined });
  });

  it('refuses a token living longer than an hour (exp − iat), accepts one of exactly an hour', async () => {
    const replay = new ReplayCache();
    expect(await verify(await token({ lifetimeS: 3601 }), replay)).toBeUndefined();
    expect(await verify(await token({ lifetimeS: 24 * 3600 }), replay)).toBeUndefined();
    expect(await verify(await token({ lifetimeS: 3600 }), replay)).toBeDefined();
  });

  it('a token refused for another reason does not use up its jti', async () => {
    const replay = new ReplayCache();
    const jti = randomUUID();
    expect(await verify(await token({ jti, typ: null }), replay)).toBeUndefined();
    expect(await verify(await token({ jti }), replay)).toBeDefined();
    expect(await verify(await token({ jti }), replay)).toBeUndefined();
  });
});

describe('in-memory replay cache', () => {
  it('one client filling its share is refused; another client is not affected', async () => {
    const replay = new ReplayCache(5);
    for (let i = 0; i < 5; i++) expect(await verify(await token(), replay)).toBeDefined();
    expect(await verify(await token(), replay)).toBeUndefined();
    expect(await verify(await token({ iss: iss(2) }), replay)).toEqual({ iss: iss(2), tenant: undefined });
  });

  it('keeps a jti until its token expires (plus the clock tolerance), then forgets it', () => {
    const c = new ReplayCache(2);
    const now = 1_000_000;
    expect(c.claimSync('a', 'j1', now + 1000, now)).toBe(true);
    expect(c.claimSync('a', 'j1', now + 1000, now + 999)).toBe(false);
    expect(c.claimSync('a', 'j2', now + 1000, now)).toBe(true);
    expect(c.claimSync('a', 'j3', now + 1000, now + 10)).toBe(false); // full
    expect(c.claimSync('a', 'j3', now + 5000, now + 2000)).toBe(true); // the expired ones were swept
    expect(c.sizeOf('a')).toBe(1);
  });
});

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const { port } = srv.address() as { port: number };
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

const waitReady = async (s: RedisReplayStore) => {
  for (let i = 0; i < 100; i++) {
    try {
      await s.claim('probe', randomUUID(), Date.now() + 1000, Date.now());
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
};

describeWithTool('redis', 'Redis replay store shared between instances', () => {
  it('a jti used at one instance is refused at another; per-client bound', { timeout: 60_000 }, async () => {
    const a = new RedisReplayStore({ url: REDIS_URL, maxPerClient: 3 });
    const b = new RedisReplayStore({ url: REDIS_URL, maxPerClient: 3 });
    try {
      await Promise.all([waitReady(a), waitReady(b)]);
      const issuer = `https://ehr-${randomBytes(6).toString('hex')}.example`;
      const jti = randomUUID();
      const now = Date.now();
      expect(await a.claim(issuer, jti, now + 60_000, now)).toBe(true);
      expect(await b.claim(issuer, jti, now + 60_000, now)).toBe(false);
      expect(await a.claim(issuer, jti, now + 60_000, now)).toBe(false);
      expect(await b.claim(issuer, randomUUID(), now + 60_000, now)).toBe(true);
      expect(await a.claim(issuer, randomUUID(), now + 60_000, now)).toBe(true);
      // Its share (3) is used up; another issuer is unaffected.
      expect(await b.claim(issuer, randomUUID(), now + 60_000, now)).toBe(false);
      expect(await b.claim(`${issuer}/other`, randomUUID(), now + 60_000, now)).toBe(true);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('end to end: a token accepted by one instance is refused by another', { timeout: 60_000 }, async () => {
    const a = new RedisReplayStore({ url: REDIS_URL });
    const b = new RedisReplayStore({ url: REDIS_URL });
    try {
      await Promise.all([waitReady(a), waitReady(b)]);
      const t = await token();
      expect(await verify(t, a)).toBeDefined();
      expect(await verify(t, b)).toBeUndefined();
    } finally {
      await a.close();
      await b.close();
    }
  });
});

describe('Redis replay store without Redis', { timeout: 60_000 }, () => {
  it('unreachable (a closed port): fails closed with an unavailable error (503), never accepts', async () => {
    const store = new RedisReplayStore({ url: `redis://127.0.0.1:${await closedPort()}`, timeoutMs: 500 });
    try {
      const t = await token();
      const started = Date.now();
      const err = await verify(t, store).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ReplayStoreUnavailableError);
      expect((err as ReplayStoreUnavailableError).kind).toBe('unavailable');
      expect(Date.now() - started).toBeLessThan(5000);
      // A token that is bad anyway is still a plain refusal.
      expect(await verify(await token({ typ: null }), store)).toBeUndefined();
    } finally {
      await store.close();
    }
  });
});

describe('PostgreSQL replay store', { timeout: 60_000 }, () => {
  const url = process.env.DATABASE_URL;
  let db: Db | undefined;
  const schema = `ow_jti_${randomBytes(5).toString('hex')}`;
  beforeAll(async () => {
    if (url) db = await openDb({ databaseUrl: url, schema });
  });
  afterAll(async () => {
    if (!db) return;
    await db.exec(`drop schema ${schema} cascade`);
    await db.close();
  });

  it('a jti used at one instance is refused at another; per-client bound; expired rows replaced', async (ctx) => {
    if (!db) ctx.skip();
    const a = new DbReplayStore(db!, { maxPerClient: 2 });
    const b = new DbReplayStore(db!, { maxPerClient: 2 });
    const now = Date.now();
    const [x, y, z] = [randomUUID(), randomUUID(), randomUUID()];
    expect(await a.claim('ehr-1', x, now + 60_000, now)).toBe(true);
    expect(await b.claim('ehr-1', x, now + 60_000, now)).toBe(false);
    expect(await b.claim('ehr-1', y, now + 60_000, now)).toBe(true);
    expect(await a.claim('ehr-1', z, now + 60_000, now)).toBe(false); // its share is used up
    expect(await a.claim('ehr-2', z, now + 60_000, now)).toBe(true); // others are not affected
    // After expiry the jti may be used again (the token itself is then refused as expired anyway).
    expect(await b.claim('ehr-1', x, now + 200_000, now + 61_000)).toBe(true);
    const t = await token();
    expect(await verify(t, a)).toBeDefined();
    expect(await verify(t, b)).toBeUndefined();
  });
});
