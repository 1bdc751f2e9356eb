/**
 * Named prepared statements for PGlite. PGlite parses and plans every statement it is sent, inside WASM,
 * and the planning of a large statement can cost more than running it; node-postgres names statements
 * itself, PGlite has no API for it. So the statement is PREPAREd once per database (PREPARE outlives a
 * rolled-back transaction) and run with EXECUTE, its arguments written as SQL literals.
 */

/** A PGlite instance or one of its transactions. */
export interface SqlExecutor {
  exec(sql: string): Promise<Array<{ rows: unknown[] }>>;
  query<T>(sql: string, params?: unknown[]): Promise<{ rows: T[] }>;
}

const NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/** A value as an SQL literal; standard_conforming_strings is on, so only quotes are doubled. */
export function sqlLiteral(v: unknown): string {
  if (v === null || v === undefined) return 'NULL';
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new Error(`cannot write ${v} as an SQL literal`);
    return String(v);
  }
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (typeof v === 'string') {
    if (v.includes('\u0000')) throw new Error('text parameters cannot contain NUL characters');
    return `'${v.replaceAll("'", "''")}'`;
  }
  throw new Error(`cannot write a ${typeof v} as an SQL literal`);
}

export async function executePrepared<T>(
  db: SqlExecutor,
  prepared: Set<string>,
  name: string,
  sql: string,
  params: unknown[],
): Promise<T[]> {
  if (!NAME.test(name)) throw new Error(`invalid prepared statement name ${name}`);
  if (!prepared.has(name)) {
    await db.exec(`prepare ${name} as ${sql}`);
    prepared.add(name);
  }
  const args = params.length ? `(${params.map(sqlLiteral).join(', ')})` : '';
  const results = await db.exec(`execute ${name}${args}`);
  return (results.at(-1)?.rows ?? []) as T[];
}

/** A query on PGlite, as a prepared statement when `prepare` names one (Queryable's `prepare` option). */
export async function pgliteQuery<T>(
  db: SqlExecutor,
  prepared: Set<string>,
  sql: string,
  params: unknown[],
  prepare: string | undefined,
): Promise<T[]> {
  if (prepare) return executePrepared<T>(db, prepared, prepare, sql, params);
  return (await db.query<T>(sql, params)).rows;
}
