/**
 * Tamper evidence: every audit record carries the SHA-256 of its predecessor's hash and its own canonical
 * JSON (keys sorted), so that changing, removing or reordering any record breaks every later link.
 */
import { createHash } from 'node:crypto';

export const GENESIS_HASH = '0'.repeat(64);

/** JSON with object keys sorted at every level (native JSON.stringify does the escaping and number forms). */
export function canonicalJson(value: unknown): string {
  return (
    JSON.stringify(value, (_key, v: unknown) => {
      if (v === null || typeof v !== 'object' || Array.isArray(v)) return v;
      const o = v as Record<string, unknown>;
      const keys = Object.keys(o).sort();
      const sorted: Record<string, unknown> = {};
      for (const k of keys) sorted[k] = o[k];
      return sorted;
    }) ?? 'null'
  );
}

export interface ChainedFields {
  seq: number;
  recordedAt: string;
  kind: string;
  patientId: string | null;
  tenant: string | null;
  actor: string | null;
  payload: unknown;
}

/** A stored audit record: the hashed fields and the hash. */
export interface AuditRow extends ChainedFields {
  payload: Record<string, unknown>;
  hash: string;
}

export function chainHash(prevHash: string, fields: ChainedFields): string {
  return linkHash(prevHash, canonicalJson(fields));
}

/** One link: SHA-256 of the predecessor's hash and the record's canonical JSON. */
function linkHash(prevHash: string, canonical: string): string {
  return createHash('sha256').update(prevHash).update('\n').update(canonical).digest('hex');
}

export type AuditKind =
  | 'hook-invocation'
  | 'card-feedback'
  | 'write-back'
  /** A write-back refused before anything was written (records.ts writeBackRefusedSchema). */
  | 'write-back-refused'
  | 'surveillance-run'
  | 'audit-query';

/** One record to append, before it has a place in the chain. */
export interface Entry {
  kind: AuditKind;
  recordedAt: string;
  patientId?: string;
  tenant?: string;
  actor?: string;
  payload: Record<string, unknown>;
}

/**
 * canonicalJson(fields) composed from a payload already in canonical form (computed once, when a record
 * is queued): the keys of ChainedFields in sorted order.
 */
export function canonicalFields(f: Omit<ChainedFields, 'payload'>, canonicalPayload: string): string {
  const j = JSON.stringify;
  return `{"actor":${j(f.actor)},"kind":${j(f.kind)},"patientId":${j(f.patientId)},"payload":${canonicalPayload},"recordedAt":${j(f.recordedAt)},"seq":${j(f.seq)},"tenant":${j(f.tenant)}}`;
}

/** An entry whose payload is serialised ahead of its place in the chain. */
export interface PreparedEntry {
  kind: AuditKind;
  recordedAt: string;
  patientId: string | null;
  tenant: string | null;
  actor: string | null;
  /** JSON.stringify(payload): what is stored. */
  payloadJson: string;
  /** canonicalJson(payload): what is hashed. */
  payloadCanonical: string;
}

/**
 * JSON escapes that PostgreSQL cannot store: NUL (text and jsonb cannot hold it) and a lone UTF-16
 * surrogate (JSON.stringify writes one as `\udXXX`; it has no UTF-8 encoding and jsonb refuses it). A
 * well-formed surrogate pair is written as the character itself, so every `\ud8xx`–`\udfxx` escape in
 * JSON.stringify's output is a lone one. Escaped backslashes are matched first, so `\\u0000` (the six
 * characters) is left alone.
 */
const UNSTORABLE = /\\(\\|u(?:0000|[dD][89abcdefABCDEF][0-9a-fA-F]{2}))/g;

/** JSON text (from JSON.stringify) with unstorable escapes replaced by U+FFFD. */
export function storableJson(json: string): string {
  return json.replace(UNSTORABLE, (m) => (m === '\\\\' ? m : '\\ufffd'));
}

/**
 * The value with NUL characters and lone surrogates in its strings (and keys) replaced by U+FFFD: one such
 * string from a client would otherwise fail the write (and, before each record was retried alone, its
 * whole batch).
 */
export function withoutNul<T>(value: T): T {
  return JSON.parse(storableJson(JSON.stringify(value))) as T;
}

/** True when serialised JSON may carry a NUL or a lone surrogate (a false alarm only costs a sanitising pass). */
export const mayHoldNul = (json: string): boolean => json.includes('\\u0000') || /\\u[dD][89a-fA-F]/.test(json);

/** A validated record as it can be stored: what every writer applies to its input (see withoutNul). */
export function storable<T>(value: T): T {
  return mayHoldNul(JSON.stringify(value)) ? withoutNul(value) : value;
}

export function prepareEntry(e: Entry): PreparedEntry {
  return {
    kind: e.kind,
    recordedAt: new Date(e.recordedAt).toISOString(),
    patientId: e.patientId ?? null,
    tenant: e.tenant ?? null,
    actor: e.actor ?? null,
    // canonicalJson and JSON.stringify both drop undefined members, so what is hashed is what is stored.
    payloadJson: JSON.stringify(e.payload),
    payloadCanonical: canonicalJson(e.payload),
  };
}

export interface Placed {
  seq: number;
  prevHash: string;
  hash: string;
}

/** The prepared entry's place after `last`: its sequence number and hash. */
export function place(p: PreparedEntry, last: { seq: number; hash: string } | undefined): Placed {
  const seq = (last?.seq ?? 0) + 1;
  const prevHash = last?.hash ?? GENESIS_HASH;
  const canonical = canonicalFields(
    { seq, recordedAt: p.recordedAt, kind: p.kind, patientId: p.patientId, tenant: p.tenant, actor: p.actor },
    p.payloadCanonical,
  );
  return { seq, prevHash, hash: linkHash(prevHash, canonical) };
}

/** Parameters $1–$10 of INSERT_AUDIT_LOG. */
export const INSERT_AUDIT_LOG = `insert into audit_log (seq, recorded_at, recorded_iso, kind, patient_id, tenant, actor, payload, prev_hash, hash)
  values ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9, $10)`;

export function auditLogParams(p: PreparedEntry, at: Placed): unknown[] {
  return [
    at.seq,
    p.recordedAt,
    p.recordedAt,
    p.kind,
    p.patientId,
    p.tenant,
    p.actor,
    p.payloadJson,
    at.prevHash,
    at.hash,
  ];
}
