/**
 * One query layer over two engines: PostgreSQL (node-postgres pool) in production, PGlite (WASM PostgreSQL)
 * embedded in a data directory by default. Callers write PostgreSQL SQL once; results are normalised so both
 * engines return the same JavaScript types (bigint and numeric as number, date as "YYYY-MM-DD" text).
 */
import { stat } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { Worker } from 'node:worker_threads';
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { OsteoWatchError } from '../errors.ts';
import { endWorker } from '../threads/endWorker.ts';
import { acquireDirLock, type DirLock } from './lock.ts';
import { pgliteQuery } from './prepared.ts';
import { typeParsers } from './typeParsers.ts';

// V8 13.6 (Node 24) can abort the whole process (SIGTRAP: "Check failed: jit_page_->allocations_.erase(addr) == 1"
// in ThreadIsolation::UnregisterWasmAllocation, reached from Runtime_TierUpWasmToJSWrapper) when a WebAssembly
// module's import wrappers are tiered up in one thread while another thread's copy of the module ends: seen with
// PGlite in several worker threads of one process, each store its own thread. With the tier-up budget out of
// reach, PGlite's imports keep V8's generic wrapper (a few per cent slower on the embedded store, nothing on
// PostgreSQL) and that path is never taken. Process-wide, read when a module is instantiated: set before any is.
setFlagsFromString('--wasm-wrapper-tiering-budget=2147483647');

export interface QueryOptions {
  /**
   * Run as a named prepared statement (parsed and planned once per connection). For statements sent
   * over and over whose planning is a noticeable part of their cost.
   */
  prepare?: string;
}

export interface Queryable {
  query<T = Record<string, unknown>>(sql: string, params?: unknown[], options?: QueryOptions): Promise<T[]>;
}

/** What `Db.exclusively` did: ran fn (its value), or left it to the holder of the key. */
export type Exclusive<T> = { held: true; value: T } | { held: false };

export interface Db extends Queryable {
  readonly kind: 'postgres' | 'pglite';
  /**
   * Whether the store answers now (readiness): PostgreSQL is asked `select 1` within `timeoutMs`; the
   * embedded store is always reachable while it is open.
   */
  reachable(timeoutMs?: number): Promise<boolean>;
  /** Runs a multi-statement SQL script (migrations). */
  exec(sql: string): Promise<void>;
  /** Runs a multi-statement script and returns the rows of all its statements (the job queue's locked blocks). */
  execRows<T = Record<string, unknown>>(sql: string): Promise<T[]>;
  /** Runs fn in one transaction; rolls back when it throws. */
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
  /**
   * Runs fn unless another holder of `key` is running it now (on PostgreSQL, across the instances sharing the
   * database: a session advisory lock, released when fn ends or the holder's connection goes). The embedded store
   * serves one process, whose callers coordinate themselves: fn just runs.
   */
  exclusively<T>(key: string, fn: () => Promise<T>): Promise<Exclusive<T>>;
  close(): Promise<void>;
}

const pgTypes = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    return typeParsers[oid] ?? pg.types.getTypeParser(oid, format);
  },
};

/** SQLSTATEs and socket errors that mean the server cannot be reached now, not that the statement is wrong. */
const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  '57P01', // admin_shutdown: pg_terminate_backend, a server restarting
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now: starting up, shutting down, in recovery
  '53300', // too_many_connections
  '25006', // read_only_sql_transaction: a standby after failover, before the new primary is reached
]);
const CONNECTION_MESSAGE =
  /Connection terminated|connection error|not queryable|timeout exceeded when trying to connect|Connection ended|terminating connection/i;

/** True for an error that says the store cannot be reached (see `unavailable`), false for one about the statement. */
export function isConnectionError(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as Error & { code?: unknown }).code;
  if (typeof code === 'string' && (CONNECTION_CODES.has(code) || code.startsWith('08'))) return true;
  return CONNECTION_MESSAGE.test(err.message);
}

/** True for the store layer's `unavailable` error (the store is unreachable; try again later). */
export function isUnavailable(err: unknown): boolean {
  return err instanceof OsteoWatchError && err.kind === 'unavailable';
}

/** A connection error as the store layer reports it: `unavailable` (HTTP 503), anything else unchanged. */
function storeError(err: unknown): unknown {
  if (isUnavailable(err) || !isConnectionError(err)) return err;
  return new OsteoWatchError('unavailable', `the audit store is unreachable: ${(err as Error).message}`);
}

const pgQuery = (text: string, values: unknown[], options?: QueryOptions): pg.QueryConfig =>
  options?.prepare ? { name: options.prepare, text, values } : { text, values };

class PostgresDb implements Db {
  readonly kind = 'postgres' as const;
  readonly pool: pg.Pool;
  constructor(connectionString: string, searchPath?: string) {
    this.pool = new pg.Pool({
      connectionString,
      types: pgTypes as pg.CustomTypesConfig,
      max: 10,
      // An unreachable server fails a query in seconds (and the caller answers 503) instead of hanging.
      connectionTimeoutMillis: 5000,
      keepAlive: true,
      ...(searchPath ? { options: `-c search_path=${searchPath}` } : {}),
    });
    // A pooled connection dropped while idle (server restart, failover, pg_terminate_backend): the pool
    // discards it and opens another when next asked. Without a listener the error would end the process.
    this.pool.on('error', () => undefined);
  }
  async query<T>(sql: string, params: unknown[] = [], options?: QueryOptions): Promise<T[]> {
    try {
      return (await this.pool.query(pgQuery(sql, params, options))).rows as T[];
    } catch (err) {
      throw storeError(err);
    }
  }
  async exec(sql: string): Promise<void> {
    try {
      await this.pool.query(sql);
    } catch (err) {
      throw storeError(err);
    }
  }
  async execRows<T>(sql: string): Promise<T[]> {
    try {
      const result = (await this.pool.query(sql)) as unknown as pg.QueryResult | pg.QueryResult[];
      return (Array.isArray(result) ? result.flatMap((r) => r.rows ?? []) : result.rows) as T[];
    } catch (err) {
      throw storeError(err);
    }
  }
  async reachable(timeoutMs = 2000): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
    });
    try {
      return await Promise.race([
        this.pool.query('select 1').then(
          () => true,
          () => false,
        ),
        timeout,
      ]);
    } finally {
      clearTimeout(timer);
    }
  }
  /**
   * A connection of its own from the pool, with a listener for its errors. The connection may drop while checked
   * out (between statements): without a listener the client's error would end the process; the statement in
   * flight (or the next) fails instead, and the connection is destroyed rather than returned (`done`).
   */
  private async checkout(): Promise<{
    client: pg.PoolClient;
    broken: () => Error | undefined;
    done: (err?: Error) => void;
  }> {
    let broken: Error | undefined;
    const onError = (err: Error) => {
      broken = err;
    };
    let client: pg.PoolClient;
    try {
      client = await new Promise<pg.PoolClient>((resolve, reject) =>
        this.pool.connect((err, c) => {
          if (err || !c) return reject(err ?? new Error('no connection from the pool'));
          // Attached here, not after an await: the pool has already removed its own listener, and a
          // termination read in the same chunk as the connection's readiness would find none and end the
          // process (seen once in tests/store/outage.test.ts under load).
          c.on('error', onError);
          resolve(c);
        }),
      );
    } catch (err) {
      throw storeError(err);
    }
    return {
      client,
      broken: () => broken,
      done: (err?: Error) => {
        client.removeListener('error', onError);
        client.release(broken ?? err);
      },
    };
  }
  async transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    const { client, broken, done } = await this.checkout();
    let lost: Error | undefined;
    try {
      await client.query('begin');
      const tx: Queryable = {
        query: async <R>(sql: string, params: unknown[] = [], options?: QueryOptions) =>
          (await client.query(pgQuery(sql, params, options))).rows as R[],
      };
      const result = await fn(tx);
      await client.query('commit');
      return result;
    } catch (err) {
      if (!broken() && !isConnectionError(err)) await client.query('rollback').catch(() => undefined);
      else lost = err as Error;
      throw storeError(err);
    } finally {
      // A broken connection is destroyed, not returned to the pool.
      done(lost);
    }
  }
  async exclusively<T>(key: string, fn: () => Promise<T>): Promise<Exclusive<T>> {
    // A session lock on a connection of its own, idle (not in a transaction) while fn works on others: a
    // transaction held open for fn's length (HTTP calls to a Task server) would be "idle in transaction". The
    // lock goes with the connection if this process dies.
    const { client, done } = await this.checkout();
    let unlocked: Error | undefined;
    try {
      const { rows } = await client.query<{ held: boolean }>('select pg_try_advisory_lock(hashtext($1)) as held', [
        key,
      ]);
      if (!rows[0]?.held) return { held: false };
      try {
        return { held: true, value: await fn() };
      } finally {
        // Not unlocked (the connection gone, say): the connection is destroyed, and the lock with it.
        await client.query('select pg_advisory_unlock(hashtext($1))', [key]).catch((err: Error) => {
          unlocked = err;
        });
      }
    } catch (err) {
      throw storeError(err);
    } finally {
      done(unlocked);
    }
  }
  async close(): Promise<void> {
    await this.pool.end();
  }
}

class PgliteDb implements Db {
  readonly kind = 'pglite' as const;
  private readonly lock?: DirLock;
  readonly db: PGlite;
  // PGlite has one connection: queue transactions so that no statement interleaves with an open one.
  private chain: Promise<unknown> = Promise.resolve();
  constructor(db: PGlite, lock?: DirLock) {
    this.db = db;
    this.lock = lock;
  }
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.chain.then(fn, fn);
    this.chain = run.catch(() => undefined);
    return run;
  }
  private readonly prepared = new Set<string>();
  query<T>(sql: string, params: unknown[] = [], options?: QueryOptions): Promise<T[]> {
    return this.serial(() => pgliteQuery<T>(this.db, this.prepared, sql, params, options?.prepare));
  }
  async reachable(): Promise<boolean> {
    return !this.db.closed;
  }
  exec(sql: string): Promise<void> {
    return this.serial(async () => {
      await this.db.exec(sql);
    });
  }
  execRows<T>(sql: string): Promise<T[]> {
    return this.serial(async () => (await this.db.exec(sql)).flatMap((r) => r.rows ?? []) as T[]);
  }
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    return this.serial(() =>
      this.db.transaction(async (t) =>
        fn({
          query: <R>(sql: string, params: unknown[] = [], options?: QueryOptions) =>
            pgliteQuery<R>(t, this.prepared, sql, params, options?.prepare),
        }),
      ),
    );
  }
  async exclusively<T>(_key: string, fn: () => Promise<T>): Promise<Exclusive<T>> {
    return { held: true, value: await fn() };
  }

  async close(): Promise<void> {
    await this.serial(() => this.db.close());
    this.lock?.release();
  }
}

/** What a call to the embedded store's thread gets once that thread has ended. */
const storeStopped = () => new OsteoWatchError('unavailable', 'the embedded store has stopped');

/** PGlite running in a worker thread (see pgliteWorker.ts); same interface, statements serialized. */
class PgliteWorkerDb implements Db {
  readonly kind = 'pglite' as const;
  private readonly worker: Worker;
  private readonly lock?: DirLock;
  private next = 1;
  private readonly pending = new Map<number, { resolve: (rows: unknown[]) => void; reject: (e: Error) => void }>();
  private chain: Promise<unknown> = Promise.resolve();

  private constructor(worker: Worker, lock?: DirLock) {
    this.worker = worker;
    this.lock = lock;
    worker.on('message', (m: { id?: number; rows?: unknown[]; error?: { message: string; code?: string } }) => {
      if (m.id === undefined) return;
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (m.error) p.reject(Object.assign(new Error(m.error.message), { code: m.error.code }));
      else p.resolve(m.rows ?? []);
    });
    worker.on('error', (err) => {
      for (const p of this.pending.values()) p.reject(err);
      this.pending.clear();
    });
    worker.on('exit', () => {
      this.exited = true;
      // A thread gone (ended, or died) answers nothing more: what waits on it fails now instead of for ever.
      const gone = storeStopped();
      for (const p of this.pending.values()) p.reject(gone);
      this.pending.clear();
    });
  }

  static async start(dataDir: string | undefined, lock?: DirLock): Promise<PgliteWorkerDb> {
    // The worker lowers its own scheduling priority, and threads inherit the priority of the thread that
    // creates them: make sure libuv's thread pool (which verifies client signatures) is started from here.
    await stat(fileURLToPath(import.meta.url));
    const worker = new Worker(new URL('./pgliteWorker.ts', import.meta.url), { workerData: { dataDir } });
    await new Promise<void>((resolve, reject) => {
      worker.once('message', () => resolve());
      worker.once('error', reject);
    });
    worker.unref();
    return new PgliteWorkerDb(worker, lock);
  }

  private send(
    op: 'query' | 'exec' | 'execRows' | 'close',
    sql?: string,
    params?: unknown[],
    options?: QueryOptions,
  ): Promise<unknown[]> {
    const id = this.next++;
    if (this.exited) return Promise.reject(storeStopped());
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ id, op, sql, params, prepare: options?.prepare });
    });
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.chain.then(fn, fn);
    this.chain = run.catch(() => undefined);
    return run;
  }

  query<T>(sql: string, params: unknown[] = [], options?: QueryOptions): Promise<T[]> {
    return this.serial(() => this.send('query', sql, params, options) as Promise<T[]>);
  }

  private exited = false;
  async reachable(): Promise<boolean> {
    return !this.exited;
  }

  exec(sql: string): Promise<void> {
    return this.serial(async () => {
      await this.send('exec', sql);
    });
  }

  execRows<T>(sql: string): Promise<T[]> {
    return this.serial(() => this.send('execRows', sql) as Promise<T[]>);
  }

  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    return this.serial(async () => {
      await this.send('exec', 'begin');
      try {
        const result = await fn({
          query: async <R>(sql: string, params: unknown[] = [], options?: QueryOptions) =>
            (await this.send('query', sql, params, options)) as R[],
        });
        await this.send('exec', 'commit');
        return result;
      } catch (err) {
        await this.send('exec', 'rollback').catch(() => undefined);
        throw err;
      }
    });
  }

  async exclusively<T>(_key: string, fn: () => Promise<T>): Promise<Exclusive<T>> {
    return { held: true, value: await fn() };
  }

  async close(): Promise<void> {
    try {
      // A thread already gone has nothing left to close.
      if (!this.exited) await this.serial(() => this.send('close'));
    } finally {
      await endWorker(this.worker);
      this.lock?.release();
    }
  }
}

export interface StoreLocation {
  /** PostgreSQL connection string; when set, PostgreSQL is used. */
  databaseUrl?: string;
  /** PostgreSQL schema to use (tests isolate themselves this way). */
  schema?: string;
  /** PGlite data directory; undefined with memory: true for an in-memory database. */
  dataDir?: string;
  memory?: boolean;
  /** PGlite on the main thread instead of a worker thread (short-lived tools). */
  inProcess?: boolean;
}

export async function openDb(location: StoreLocation): Promise<Db> {
  if (location.databaseUrl) {
    const db = new PostgresDb(location.databaseUrl, location.schema);
    if (location.schema) {
      if (!/^[a-z_][a-z0-9_]{0,62}$/.test(location.schema)) throw new Error(`invalid schema name ${location.schema}`);
      await db.exec(`create schema if not exists ${location.schema}`);
    }
    await db.query('select 1');
    return db;
  }
  if (location.memory)
    return location.inProcess
      ? new PgliteDb(await PGlite.create({ parsers: typeParsers }))
      : PgliteWorkerDb.start(undefined);
  if (!location.dataDir) throw new Error('no store configured: set DATABASE_URL or OSTEOWATCH_DATA_DIR');
  const lock = acquireDirLock(location.dataDir);
  try {
    return location.inProcess
      ? new PgliteDb(await PGlite.create(`${location.dataDir}/pgdata`, { parsers: typeParsers }), lock)
      : await PgliteWorkerDb.start(`${location.dataDir}/pgdata`, lock);
  } catch (err) {
    lock.release();
    throw err;
  }
}
