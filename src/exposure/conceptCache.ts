/**
 * What a coded medication is, remembered by the concept as written (and the reference's display): the same
 * concepts recur across a patient's records and across a cohort, and resolving one was a fifth of the engine's
 * time on a run. Kept as a tree of maps over exactly what the resolver reads of a concept (medication.ts: the
 * display, the text, and each coding's system, code and display, in order), so that a lookup hashes the strings
 * as parsed instead of building and hashing a key of them all (JSON.stringify and then a key of it cost as much
 * as resolving). A concept of any other shape (another member, such as an extension; a value that is not a string)
 * is resolved each time, never keyed on part of what it says.
 *
 * Results are frozen: shared between records, they must not be changed by any of them.
 */
import type { CodeableConcept } from '@medplum/fhirtypes';
import type { MedicationResolution } from './medication.ts';

/** A level of the tree: the next value read → the level after it; the resolution under RESOLUTION. */
type Level = Map<unknown, Level> & { [RESOLUTION]?: MedicationResolution };
const RESOLUTION = Symbol('resolution');

/**
 * A bound on the levels held (each a Map: 3 for a concept, 3 more per coding; ten thousand concepts of one or two
 * codings), so that memory is bounded whatever the concepts: the tree is dropped and started again past it.
 * Concepts of more codings than any real one has are not remembered at all.
 */
const MAX_LEVELS = 60_000;
const MAX_CODINGS = 20;
let root: Level = new Map();
let held = 0;

const CONCEPT_KEYS = new Set(['coding', 'text']);
const CODING_KEYS = new Set(['system', 'code', 'display']);

/** The resolution of `concept` shown with `display`, from the tree or from `resolve` (then remembered). */
export function cachedResolution(
  concept: CodeableConcept | undefined,
  display: string | undefined,
  resolve: () => MedicationResolution,
): MedicationResolution {
  const path = pathOf(concept, display);
  if (!path) return resolve();
  let level: Level | undefined = root;
  for (const v of path) {
    level = level.get(v);
    if (!level) break;
  }
  const hit = level?.[RESOLUTION];
  if (hit) return hit;
  const resolved = resolve();
  if (resolved.kind === 'glucocorticoid') {
    Object.freeze(resolved.facts.notes);
    Object.freeze(resolved.facts);
  }
  Object.freeze(resolved);
  if (held + path.length > MAX_LEVELS) {
    root = new Map();
    held = 0;
  }
  // The levels made only now, once resolved (a resolver that throws leaves none behind).
  let at = root;
  for (const v of path) {
    let next = at.get(v);
    if (!next) {
      next = new Map() as Level;
      at.set(v, next);
      held++;
    }
    at = next;
  }
  at[RESOLUTION] = resolved;
  return resolved;
}

/**
 * The values the resolver reads, in order: display, text, the number of codings, then each coding's system, code
 * and display; undefined when the concept has any other member, a value that is not a string (or absent), or more
 * than MAX_CODINGS codings.
 */
function pathOf(concept: CodeableConcept | undefined, display: string | undefined): unknown[] | undefined {
  if (typeof concept !== 'object' || concept === null || Array.isArray(concept)) return undefined;
  if (!isText(display) || !isText(concept.text) || !isPlain(concept, CONCEPT_KEYS)) return undefined;
  const codings = concept.coding;
  if (codings === undefined) return [display, concept.text, 0];
  if (!Array.isArray(codings) || codings.length > MAX_CODINGS) return undefined;
  const path: unknown[] = [display, concept.text, codings.length];
  for (const c of codings) {
    if (typeof c !== 'object' || c === null || Array.isArray(c) || !isPlain(c, CODING_KEYS)) return undefined;
    const { system, code, display: shown } = c;
    if (!isText(system) || !isText(code) || !isText(shown)) return undefined;
    path.push(system, code, shown);
  }
  return path;
}

const isText = (v: unknown): boolean => v === undefined || typeof v === 'string';
function isPlain(o: object, keys: ReadonlySet<string>): boolean {
  for (const k in o) if (!keys.has(k)) return false;
  return true;
}
