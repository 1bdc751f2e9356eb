/**
 * Content-addressed exposure contributions. A hook record keeps the exposure summary inline and refers to
 * its contribution list by `sha256:<hex>` of the list's JSON; the list itself lives once in
 * contribution_set. Charts are opened again and again with the same medication data, so the audit trail
 * grows by a reference per call instead of a copy of every record's contribution.
 */
import { createHash } from 'node:crypto';
import type { Queryable } from '../store/db.ts';
import type { ExposureSnapshot } from './records.ts';

/** The exposure as it sits in a hook record's payload. */
export type StoredExposure = Omit<ExposureSnapshot, 'contributions'> & {
  contributionsRef: string;
  contributionCount: number;
};

export function contributionRef(body: string): string {
  return `sha256:${createHash('sha256').update(body).digest('hex')}`;
}

/** Splits a snapshot into what the payload stores and the body addressed by its reference. */
export function splitExposure(x: ExposureSnapshot): { stored: StoredExposure; ref: string; body: string } {
  const { contributions, ...rest } = x;
  const body = JSON.stringify(contributions);
  const ref = contributionRef(body);
  return { stored: { ...rest, contributionsRef: ref, contributionCount: contributions.length }, ref, body };
}

export function isStoredExposure(x: unknown): x is StoredExposure {
  return typeof x === 'object' && x !== null && typeof (x as StoredExposure).contributionsRef === 'string';
}

/** Reads the bodies for a set of references; a reference without a row is absent from the map. */
export async function readContributionSets(db: Queryable, refs: Iterable<string>): Promise<Map<string, string>> {
  const wanted = [...new Set(refs)];
  if (!wanted.length) return new Map();
  const rows = await db.query<{ hash: string; body: string }>(
    'select hash, body from contribution_set where hash = any($1::text[])',
    [wanted],
  );
  return new Map(rows.map((r) => [r.hash, r.body]));
}

/** The snapshot as recorded: contributions restored from their set (records written before sets kept theirs inline). */
export function inflateExposure(x: unknown, bodies: Map<string, string>): ExposureSnapshot | null {
  if (!x) return null;
  if (!isStoredExposure(x)) return x as ExposureSnapshot;
  const { contributionsRef, contributionCount: _n, ...rest } = x;
  const body = bodies.get(contributionsRef);
  return { ...rest, contributions: body ? JSON.parse(body) : [] } as ExposureSnapshot;
}
