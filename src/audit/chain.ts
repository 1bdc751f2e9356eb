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

export function chainHash(prevHash: string, fields: ChainedFields): string {
  return createHash('sha256').update(prevHash).update('\n').update(canonicalJson(fields)).digest('hex');
}
