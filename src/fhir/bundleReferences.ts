/**
 * Bundle references resolved the FHIR way, once, where a Bundle enters OsteoWatch (a file, a CDS Hooks prefetch,
 * a FHIR search page), so that everything after — the pure exposure engine, patient matching, de-duplication —
 * works on plain "Type/id" (https://hl7.org/fhir/R4/bundle.html#references).
 *
 * Transaction and collection Bundles (Synthea's output, the HL7 examples) name their entries by `fullUrl`
 * (`urn:uuid:…`, `urn:oid:…` or an absolute RESTful URL), often leave `Resource.id` out, and point at each
 * other with those fullUrls: `subject`, `basedOn`, `medicationReference`, `request`, `partOf`, `derivedFrom`,
 * `context`. Read naively, a patient's records then belong to no "Patient/X" and count 0 mg without a word.
 *
 * Each entry gets a key "Type/id": its own id; for an id-less entry the id in its RESTful fullUrl, or the uuid or
 * oid of its `urn:` fullUrl (deterministic, so the same file always names its records the same), or a name the
 * caller gives (file position) or a hash of the content. Every Reference in every entry (contained resources
 * included) is then rewritten by the resolution rules of bundle.html#references:
 *  - a version-specific reference (…/_history/n) matches the unversioned entry;
 *  - an absolute reference (http(s):, urn:uuid:, urn:oid:) matches the entry with that fullUrl;
 *  - a relative one is taken against the base of the referring entry's RESTful fullUrl, then matched;
 *  - anything that resolves to no entry is reduced to "Type/id" when it is RESTful (a Patient searched for
 *    but not included) and otherwise left as written (an unknown urn:uuid, a conditional reference).
 * Limitation: the engine identifies resources by "Type/id", so a reference to a resource outside the Bundle on a
 * second server is not told apart from one on the first. Two entries of the same "Type/id" under different
 * fullUrls (two servers) are both kept, the second renamed "id.2", never dropped as a repeat.
 */
import { createHash } from 'node:crypto';
import type { Resource } from '@medplum/fhirtypes';
import { FHIR_ID } from '../terminology/fhirId.ts';

export interface EntryLike {
  fullUrl?: string;
  resource?: Resource;
}

export interface ResolvedEntries {
  /** The entries' resources in order, each with an id and its references in "Type/id" form where they resolve. */
  resources: Resource[];
  /** Each returned resource's fullUrl. */
  fullUrls: Map<Resource, string>;
  /** A reference written outside the Bundle (a command-line argument) → its "Type/id" here; undefined if not one. */
  resolve(reference: string): string | undefined;
}

export interface ResolveOptions {
  /** Name of an entry with neither id nor fullUrl (default: a hash of its content). */
  unnamed?: (index: number, resource: Resource) => string;
}

// The R4 reference pattern (https://hl7.org/fhir/R4/references.html#literal), with the base captured.
const RESTFUL =
  /^((?:https?):\/\/(?:[A-Za-z0-9\-\\.:%$]*\/)+)?([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})(?:\/_history\/[A-Za-z0-9\-.]{1,64})?$/;

interface Parsed {
  base?: string;
  type: string;
  id: string;
}

function parse(ref: string): Parsed | undefined {
  const m = RESTFUL.exec(ref);
  return m ? { base: m[1], type: m[2]!, id: m[3]! } : undefined;
}

/** "Type/id" of a relative, absolute or version-specific RESTful reference; undefined for anything else. */
export function typeAndId(ref: string | undefined): string | undefined {
  const p = ref ? parse(ref) : undefined;
  return p ? `${p.type}/${p.id}` : undefined;
}

/** The id a `urn:uuid:` or `urn:oid:` fullUrl gives an id-less entry (a uuid and an oid are valid FHIR ids). */
function urnId(fullUrl: string): string | undefined {
  const m = /^urn:(?:uuid|oid):(.+)$/i.exec(fullUrl);
  return m && FHIR_ID.test(m[1]!) ? m[1] : undefined;
}

const hashId = (text: string): string => `h${createHash('sha256').update(text).digest('hex').slice(0, 16)}`;

// Elements whose content holds no Reference: Narrative, Meta, Coding (walking them is most of the time spent).
const SKIP = new Set(['text', 'meta', 'coding']);

/** Copy-on-write: a new object only along the paths where a reference changed. */
function rewrite(value: unknown, resolve: (ref: string) => string): unknown {
  if (Array.isArray(value)) {
    let out: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const next = rewrite(value[i], resolve);
      if (next !== value[i]) {
        out ??= value.slice();
        out[i] = next;
      }
    }
    return out ?? value;
  }
  if (value === null || typeof value !== 'object') return value;
  const obj = value as Record<string, unknown>;
  // A Bundle inside a resource resolves its own references.
  if (obj.resourceType === 'Bundle') return value;
  let out: Record<string, unknown> | undefined;
  for (const key in obj) {
    if (SKIP.has(key)) continue;
    const v = obj[key];
    let next: unknown;
    if (key === 'reference' && typeof v === 'string') next = resolve(v);
    else if (v !== null && typeof v === 'object') next = rewrite(v, resolve);
    else continue;
    if (next !== v) {
      out ??= { ...obj };
      out[key] = next;
    }
  }
  return out ?? value;
}

/** Resolves a Bundle's entries (or NDJSON lines as entries without fullUrl): see the module comment. */
export function resolveEntries(entries: readonly EntryLike[], options: ResolveOptions = {}): ResolvedEntries {
  const byFullUrl = new Map<string, string>(); // fullUrl → key
  const owner = new Map<string, string | undefined>(); // key → the fullUrl it was first given under
  const keys: Array<string | undefined> = [];
  for (const [i, entry] of entries.entries()) {
    const r = entry?.resource;
    // Untrusted input (a prefetch) may hold anything: only resources are kept, as before resolution.
    if (!r || typeof r !== 'object' || typeof r.resourceType !== 'string') continue;
    const fullUrl = typeof entry.fullUrl === 'string' ? entry.fullUrl : undefined;
    const p = fullUrl ? parse(fullUrl) : undefined;
    const id =
      r.id ??
      (p && p.type === r.resourceType ? p.id : undefined) ??
      (fullUrl ? (urnId(fullUrl) ?? hashId(fullUrl)) : undefined) ??
      options.unnamed?.(i, r) ??
      hashId(JSON.stringify(r));
    let key = `${r.resourceType}/${id}`;
    const seenUnder = owner.get(key);
    if (owner.has(key) && fullUrl && seenUnder && seenUnder !== fullUrl) {
      key = byFullUrl.get(fullUrl) ?? key;
      for (let n = 2; owner.has(key); n++) key = `${r.resourceType}/${id}.${n}`;
    }
    if (!owner.has(key)) owner.set(key, fullUrl);
    if (fullUrl && !byFullUrl.has(fullUrl)) byFullUrl.set(fullUrl, key);
    keys[i] = key;
  }

  const resolveFrom = (ref: string, base: string | undefined): string => {
    if (ref.startsWith('#')) return ref;
    const exact = byFullUrl.get(ref);
    if (exact) return exact;
    const p = parse(ref);
    if (!p) return ref;
    const typeId = `${p.type}/${p.id}`;
    const absolute = p.base ?? base;
    return (absolute && byFullUrl.get(absolute + typeId)) || typeId;
  };

  const resources: Resource[] = [];
  const fullUrls = new Map<Resource, string>();
  for (const [i, entry] of entries.entries()) {
    const r = entry?.resource;
    const key = keys[i];
    if (!r || !key) continue;
    const base = entry.fullUrl ? parse(entry.fullUrl)?.base : undefined;
    let out = rewrite(r, (ref) => resolveFrom(ref, base)) as Resource;
    const id = key.slice(r.resourceType.length + 1);
    if (out.id !== id) out = { ...out, id };
    resources.push(out);
    if (entry.fullUrl) fullUrls.set(out, entry.fullUrl);
  }
  return {
    resources,
    fullUrls,
    resolve: (reference) => {
      const resolved = resolveFrom(reference, undefined);
      return parse(resolved) ? resolved : undefined;
    },
  };
}
