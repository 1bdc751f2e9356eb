/**
 * Where a CDS client token's `jti` is remembered, so that it is accepted once (CDS Hooks 2.0, "Trusting CDS
 * Clients": https://cds-hooks.hl7.org/2.0/#trusting-cds-clients). A jti is kept until its token expires, and a
 * token lives at most MAX_TOKEN_LIFETIME_S (cdsJwt.ts refuses longer ones), so nothing is kept longer than that.
 *
 * Three places, by configuration:
 * - Redis (OSTEOWATCH_REDIS_URL): shared by every instance; `SET key NX PX ttl`, atomically with a per-client
 *   count, in one Lua script.
 * - PostgreSQL (DATABASE_URL): shared by every instance; a small table with a unique key and an expiry, created
 *   on first use (`create table if not exists`, no migration).
 * - Memory: this process only (the embedded store is held by one process anyway).
 *
 * Bounded per client: each trusted issuer may have at most `maxPerClient` live jtis; beyond that its own tokens
 * are refused until some expire, and no other client is affected. Memory is therefore bounded by the number of
 * trusted issuers (a jti is only claimed after the token's signature has been verified).
 *
 * Fail closed: when the shared store cannot be reached or does not answer in time, `claim` throws
 * ReplayStoreUnavailableError (an `unavailable` OsteoWatchError: HTTP 503); a token is never accepted unchecked.
 */
import { createHash } from 'node:crypto';
import { createClient } from 'redis';
import { OsteoWatchError } from '../errors.ts';
import type { Queryable } from '../store/db.ts';

/** Tokens living longer than this (exp − iat) are refused, so that no jti is kept longer. */
export const MAX_TOKEN_LIFETIME_S = 3600;
/** Live jtis per client (issuer). A busy EHR at 10 calls a second for an hour stays under it. */
export const DEFAULT_MAX_PER_CLIENT = 50_000;

export class ReplayStoreUnavailableError extends OsteoWatchError {
  constructor() {
    super('unavailable', 'Token replay protection is unavailable; try again later');
  }
}

export interface ReplayStore {
  /**
   * True the first time (iss, jti) is seen before `expiresAtMs`; false for a replay, or when the client has
   * too many live jtis. Throws ReplayStoreUnavailableError when it cannot tell.
   */
  claim(iss: string, jti: string, expiresAtMs: number, nowMs: number): Promise<boolean>;
  close?(): Promise<void>;
}

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

/** In memory, this process only: one map per issuer, each bounded. */
export class ReplayCache implements ReplayStore {
  private readonly byIss = new Map<string, { seen: Map<string, number>; sweptAt: number }>();
  readonly maxPerClient: number;
  constructor(maxPerClient = DEFAULT_MAX_PER_CLIENT) {
    this.maxPerClient = maxPerClient;
  }
  async claim(iss: string, jti: string, expiresAtMs: number, nowMs: number): Promise<boolean> {
    return this.claimSync(iss, jti, expiresAtMs, nowMs);
  }
  claimSync(iss: string, jti: string, expiresAtMs: number, nowMs: number): boolean {
    let c = this.byIss.get(iss);
    if (!c) {
      c = { seen: new Map(), sweptAt: Number.NEGATIVE_INFINITY };
      this.byIss.set(iss, c);
    }
    const prior = c.seen.get(jti);
    if (prior !== undefined && prior > nowMs) return false;
    if (prior === undefined && c.seen.size >= this.maxPerClient) {
      // Sweep at most once a second, so that a client at its bound cannot make every call a full scan.
      if (nowMs - c.sweptAt >= 1000) {
        c.sweptAt = nowMs;
        for (const [k, exp] of c.seen) if (exp <= nowMs) c.seen.delete(k);
      }
      if (c.seen.size >= this.maxPerClient) return false; // refuse rather than forget: fail closed
    }
    c.seen.set(jti, expiresAtMs);
    return true;
  }
  /** Live and expired-but-not-swept entries of one issuer (tests). */
  sizeOf(iss: string): number {
    return this.byIss.get(iss)?.seen.size ?? 0;
  }
}

/** A promise that rejects with ReplayStoreUnavailableError after `ms`. */
function within<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new ReplayStoreUnavailableError()), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Atomically: refuse a replay (0), refuse a client at its bound (-1), else remember the jti and count it (1).
 * KEYS: the jti, the client's count for this window, its count for the previous window (one hash slot: {iss}).
 * ARGV: ttl ms, max per client, window ms.
 */
const CLAIM_SCRIPT = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local n = tonumber(redis.call('GET', KEYS[2]) or '0') + tonumber(redis.call('GET', KEYS[3]) or '0')
if n >= tonumber(ARGV[2]) then return -1 end
redis.call('SET', KEYS[1], '1', 'PX', ARGV[1])
redis.call('INCR', KEYS[2])
redis.call('PEXPIRE', KEYS[2], tonumber(ARGV[3]) * 2)
return 1`;

export interface RedisReplayOptions {
  url: string;
  maxPerClient?: number;
  /** How long a claim may take before the store counts as unavailable. */
  timeoutMs?: number;
  /** Told (without the URL, which may hold a password) when the connection fails or comes back. */
  onStateChange?: (state: 'ready' | 'error', reason?: string) => void;
}

/**
 * Redis, shared between instances. Connects in the background and reconnects with backoff; while it is not
 * connected every claim fails at once (no offline queue), so a CDS call is answered 503, never accepted.
 */
export class RedisReplayStore implements ReplayStore {
  private readonly client: ReturnType<typeof createClient>;
  private readonly maxPerClient: number;
  private readonly timeoutMs: number;
  private readonly window = (MAX_TOKEN_LIFETIME_S + 60) * 1000;
  private closed = false;
  constructor(o: RedisReplayOptions) {
    this.maxPerClient = o.maxPerClient ?? DEFAULT_MAX_PER_CLIENT;
    this.timeoutMs = o.timeoutMs ?? 2000;
    this.client = createClient({
      url: o.url,
      disableOfflineQueue: true,
      socket: {
        connectTimeout: this.timeoutMs,
        reconnectStrategy: (retries: number) => Math.min(100 * 2 ** retries, 5000),
      },
    });
    let lastError: string | undefined;
    this.client.on('error', (err: Error) => {
      const reason = (err as { code?: string }).code ?? err.name;
      if (reason !== lastError) o.onStateChange?.('error', reason);
      lastError = reason;
    });
    this.client.on('ready', () => {
      lastError = undefined;
      o.onStateChange?.('ready');
    });
    this.client.connect().catch(() => undefined);
  }
  async claim(iss: string, jti: string, expiresAtMs: number, nowMs: number): Promise<boolean> {
    if (this.closed || !this.client.isReady) throw new ReplayStoreUnavailableError();
    const slot = `{${sha256(iss).slice(0, 32)}}`;
    const bucket = Math.floor(nowMs / this.window);
    const ttl = Math.max(1, Math.ceil(expiresAtMs - nowMs));
    let r: unknown;
    try {
      r = await within(
        this.client.eval(CLAIM_SCRIPT, {
          keys: [
            `osteowatch:jti:${slot}:${sha256(jti)}`,
            `osteowatch:jti-n:${slot}:${bucket}`,
            `osteowatch:jti-n:${slot}:${bucket - 1}`,
          ],
          arguments: [String(ttl), String(this.maxPerClient), String(this.window)],
        }),
        this.timeoutMs,
      );
    } catch {
      throw new ReplayStoreUnavailableError();
    }
    return Number(r) === 1;
  }
  async close(): Promise<void> {
    this.closed = true;
    // Connected: let pending claims finish. Reconnecting: stop at once (quit would wait for the connection).
    if (this.client.isReady) await within(this.client.quit(), this.timeoutMs).catch(() => this.client.destroy());
    else if (this.client.isOpen) this.client.destroy();
  }
}

const TABLE = 'osteowatch_cds_jti';

/**
 * PostgreSQL, shared between instances: one row per (iss, jti) with its expiry; an expired row is replaced, a
 * live one is a replay. Rows past their expiry are deleted now and then.
 */
export class DbReplayStore implements ReplayStore {
  private readonly db: Queryable;
  private readonly maxPerClient: number;
  private readonly timeoutMs: number;
  private ready?: Promise<void>;
  private purgedAt = 0;
  constructor(db: Queryable, o: { maxPerClient?: number; timeoutMs?: number } = {}) {
    this.db = db;
    this.maxPerClient = o.maxPerClient ?? DEFAULT_MAX_PER_CLIENT;
    this.timeoutMs = o.timeoutMs ?? 5000;
  }
  private ensureTable(): Promise<void> {
    const create = async () => {
      await this.db.query(
        `create table if not exists ${TABLE} (key text primary key, iss text not null, expires_ms bigint not null)`,
      );
      await this.db.query(`create index if not exists ${TABLE}_iss on ${TABLE} (iss, expires_ms)`);
    };
    // Two instances creating the table at once: one of them fails on the catalog's unique index; once more.
    this.ready ??= create()
      .catch(() => create())
      .catch((err: unknown) => {
        this.ready = undefined;
        throw err;
      });
    return this.ready;
  }
  private async claimInDb(iss: string, jti: string, expiresAtMs: number, nowMs: number): Promise<boolean> {
    await this.ensureTable();
    if (nowMs - this.purgedAt > 60_000) {
      this.purgedAt = nowMs;
      await this.db.query(`delete from ${TABLE} where expires_ms <= $1`, [nowMs]);
    }
    const [live] = await this.db.query<{ n: number }>(
      `select count(*)::int as n from (select 1 from ${TABLE} where iss = $1 and expires_ms > $2 limit $3) t`,
      [iss, nowMs, this.maxPerClient],
    );
    const key = sha256(`${iss}\n${jti}`);
    if ((live?.n ?? 0) >= this.maxPerClient) {
      // At its bound the client may still not replay: tell a replay from a refusal only for the record.
      return false;
    }
    const rows = await this.db.query(
      `insert into ${TABLE} (key, iss, expires_ms) values ($1, $2, $3)
       on conflict (key) do update set expires_ms = excluded.expires_ms where ${TABLE}.expires_ms <= $4
       returning key`,
      [key, iss, Math.ceil(expiresAtMs), nowMs],
    );
    return rows.length === 1;
  }
  async claim(iss: string, jti: string, expiresAtMs: number, nowMs: number): Promise<boolean> {
    try {
      return await within(this.claimInDb(iss, jti, expiresAtMs, nowMs), this.timeoutMs);
    } catch {
      throw new ReplayStoreUnavailableError();
    }
  }
}

/** The configured store: Redis when a URL is given, else the database when one is given, else memory. */
export function openReplayStore(o: {
  redisUrl?: string;
  db?: Queryable;
  onStateChange?: RedisReplayOptions['onStateChange'];
}): ReplayStore & { kind: 'redis' | 'database' | 'memory' } {
  if (o.redisUrl)
    return Object.assign(new RedisReplayStore({ url: o.redisUrl, onStateChange: o.onStateChange }), {
      kind: 'redis' as const,
    });
  if (o.db) return Object.assign(new DbReplayStore(o.db), { kind: 'database' as const });
  return Object.assign(new ReplayCache(), { kind: 'memory' as const });
}
