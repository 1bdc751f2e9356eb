/**
 * The FHIR data a hook needs, from prefetch where the client gave it and from `fhirServer` otherwise.
 *
 * Prefetch states (CDS Hooks 2.0 §Prefetch Template): a key that is absent was not satisfied → fetch; `null`
 * means there is no data → nothing; an OperationOutcome, a wrong resourceType or another patient's resource
 * cannot be trusted → fetch. A Bundle with a next link is followed. Data that can be had neither way makes
 * the call fail with 412, never a zero dose.
 */
import type { MedplumClient } from '@medplum/core';
import type { Bundle, Resource, ResourceType } from '@medplum/fhirtypes';
import { OsteoWatchError } from '../errors.ts';
import { type EntryLike, resolveEntries } from '../fhir/bundleReferences.ts';
import {
  DEFAULT_FHIR_LIMITS,
  type FhirLimits,
  FhirTimeoutError,
  fhirClient,
  nextLinkOf,
  searchPages,
  timed,
} from '../fhir/patientRecords.ts';
import { patientRefOf, writtenSubjectOf } from '../fhir/subject.ts';
import { FHIR_ID_PATTERN } from '../terminology/fhirId.ts';
import { fhirShapeProblem, jsonProblem } from './request.ts';
import type { PrefetchSpec } from './serviceDefinition.ts';

/** A Medication referenced by relative reference: the ones fetched for the records that name them. */
const MEDICATION_REF = new RegExp(`^Medication/${FHIR_ID_PATTERN}$`);

/**
 * Required data missing: HTTP 412 (https://cds-hooks.hl7.org/2.0/#http-status-codes). `keys` are the prefetch
 * keys; `expression` names the unusable fields, when that is why.
 */
export class PreconditionFailed extends OsteoWatchError {
  readonly keys: string[];
  constructor(message: string, keys: string[], expression?: string[]) {
    super('precondition', message, expression?.length ? { expression } : {});
    this.keys = keys;
  }
}

/**
 * Required data the FHIR server did not deliver in time (a request's timeout or the hook call's deadline): 503
 * with Retry-After — the server we depend on is slow, and the same call may well succeed later (RFC 9110
 * §15.6.4, https://www.rfc-editor.org/rfc/rfc9110#name-503-service-unavailable). Data that cannot be had at
 * all (refused, unreachable, a search without end, an unusable answer) stays a 412: retrying will not help.
 */
export class DataTooSlow extends OsteoWatchError {
  readonly keys: string[];
  /** Seconds for the Retry-After header (https://www.rfc-editor.org/rfc/rfc9110#field.retry-after). */
  readonly retryAfterSeconds: number;
  constructor(message: string, keys: string[], retryAfterSeconds: number) {
    super('unavailable', message, { code: 'timeout' });
    this.keys = keys;
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

export interface FhirAccess {
  fhirServer?: string;
  accessToken?: string;
  /** Dev/demo: query a fhirServer that was given without fhirAuthorization (an open server). */
  allowOpenServer: boolean;
  /** Timeouts and caps (OSTEOWATCH_FHIR_*); the defaults when not given. */
  limits?: FhirLimits;
  /** The hook call's deadline: every FHIR request is cut short when it fires. */
  deadline?: AbortSignal;
}

/** Where each key's data came from. */
export type DataSourceKind = 'prefetch' | 'fetched' | 'none';

function render(template: string, context: Record<string, unknown>): string {
  return template.replace(/\{\{context\.([a-zA-Z]+)\}\}/g, (_m, name: string) =>
    encodeURIComponent(String(context[name] ?? '')),
  );
}

function expectedType(template: string): string {
  return template.split(/[/?]/)[0]!;
}

function belongsTo(r: Resource, patientId: string): boolean {
  if (r.resourceType === 'Patient') return r.id === patientId;
  // A subject that is no Patient reference once the Bundle is resolved (an unknown urn:uuid) cannot be shown to be
  // this patient's: the engine would drop the record without a word, so the prefetch is not trusted.
  if (writtenSubjectOf(r) === undefined) return true;
  return patientRefOf(r) === `Patient/${patientId}`;
}

/** A value that breaks the FHIR JSON representation: where and how, as one phrase. */
function shapeProblem(value: unknown, root: string): { path: string; text: string } | undefined {
  const p = jsonProblem(value, root) ?? fhirShapeProblem(value, root);
  return p && { path: p.path, text: `${p.path}: ${p.problem}` };
}

/** Checks a prefetch value; returns its resources, or a reason not to trust it. */
function fromPrefetch(
  value: unknown,
  template: string,
  patientId: string,
  key: string,
): { resources: Resource[]; bundle?: Bundle } | { reject: string; field?: string } {
  if (!value || typeof value !== 'object' || Array.isArray(value)) return { reject: 'not a FHIR resource' };
  const r = value as Resource;
  const type = expectedType(template);
  if (r.resourceType === 'OperationOutcome') return { reject: 'the client reported an error (OperationOutcome)' };
  // The types the code after this takes for granted (entry an array, coding an array, ids strings): a value that
  // breaks them is not used, like any untrusted prefetch (fetched instead, or 412 naming the field).
  const bad = shapeProblem(value, `prefetch.${key}`);
  if (bad) return { reject: `not valid FHIR JSON: ${bad.text}`, field: bad.path };
  if (template.includes('?')) {
    if (r.resourceType !== 'Bundle') return { reject: `expected a Bundle, got ${r.resourceType ?? 'no resourceType'}` };
    const b = r as Bundle;
    // Prefetch Bundles carry fullUrls like any other (searchset entries too): resolved once, here
    // (https://hl7.org/fhir/R4/bundle.html#references), so that urn:uuid and absolute subjects match Patient/id.
    const resources = resolveEntries((b.entry ?? []) as EntryLike[]).resources.filter(
      (x) => x.resourceType !== 'OperationOutcome',
    );
    if (resources.some((x) => x.resourceType === type && !belongsTo(x, patientId)))
      return { reject: "it holds another patient's resources" };
    return { resources, bundle: b };
  }
  if (r.resourceType !== type) return { reject: `expected ${type}, got ${r.resourceType ?? 'no resourceType'}` };
  if (!belongsTo(r, patientId)) return { reject: "it is another patient's resource" };
  return { resources: [r] };
}

const messageOf = (err: unknown) => (err instanceof Error ? err.message : String(err));

export class HookDataSource {
  private client?: MedplumClient;
  readonly access: FhirAccess;
  private readonly limits: FhirLimits;
  /** Resources fetched so far in this call (the resource cap bounds the call's memory). */
  private fetched = 0;
  constructor(access: FhirAccess) {
    this.access = access;
    this.limits = access.limits ?? DEFAULT_FHIR_LIMITS;
  }

  /** Whether the FHIR server may be queried at all for this call. */
  canFetch(): boolean {
    return !!this.access.fhirServer && (!!this.access.accessToken || this.access.allowOpenServer);
  }

  private fhir(): MedplumClient {
    this.client ??= fhirClient(this.access.fhirServer!, this.access.accessToken);
    return this.client;
  }

  /** One fetched resource, checked like a prefetched one (a hostile server's answer is no more trusted). */
  private checked(r: unknown, what: string): Resource {
    const bad = shapeProblem(r, what);
    if (bad) throw new OsteoWatchError('upstream', `the FHIR server's answer is not valid FHIR JSON: ${bad.text}`);
    return r as Resource;
  }

  private count(n: number): void {
    this.fetched += n;
    if (this.fetched > this.limits.maxResources)
      throw new OsteoWatchError('upstream', `more than ${this.limits.maxResources} resources for one call`);
  }

  /** The resources of every page from `first` on (a search URL, or a prefetched Bundle whose next link is followed). */
  private async pages(first: string | Bundle): Promise<Resource[]> {
    const out: Resource[] = [];
    for await (const page of searchPages(this.fhir(), first, this.limits, this.access.deadline)) {
      this.checked(page, 'Bundle');
      const { resources } = resolveEntries((page.entry ?? []) as EntryLike[]);
      this.count(resources.length);
      out.push(...resources);
    }
    return out;
  }

  private async search(relative: string): Promise<Resource[]> {
    const [type, query] = relative.split('?') as [string, string | undefined];
    if (!query) {
      const [t, id] = type.split('/');
      const r = await timed(
        (signal) => this.fhir().readResource(t as ResourceType, id!, { signal }),
        this.limits.timeoutMs,
        this.access.deadline,
      );
      this.count(1);
      return [this.checked(r, t!)];
    }
    return this.pages(
      this.fhir()
        .fhirSearchUrl(type as ResourceType, `${query}&_count=200`)
        .toString(),
    );
  }

  /** Each key's resources, from prefetch or the FHIR server; 412 (PreconditionFailed) for required data missing. */
  async gather<K extends string>(
    specs: Record<K, PrefetchSpec>,
    prefetch: Record<string, unknown> | undefined,
    context: Record<string, unknown> & { patientId: string },
  ): Promise<{ data: Record<K, Resource[]>; sources: Partial<Record<K, DataSourceKind>> }> {
    const byKey = {} as Record<K, Resource[]>;
    const sources: Partial<Record<K, DataSourceKind>> = {};
    const missing: string[] = [];
    const slow: string[] = [];
    const reasons: string[] = [];
    const fields: string[] = [];
    /** A required key's fetch failed: too slow (503) or not to be had (412). */
    const failed = (key: string, err: unknown, what: string) => {
      (err instanceof FhirTimeoutError ? slow : missing).push(key);
      reasons.push(`${key}: ${what} (${messageOf(err)})`);
    };
    await Promise.all(
      (Object.entries(specs) as Array<[K, PrefetchSpec]>).map(async ([key, spec]) => {
        const required = spec.onMissing === 'required';
        const template = spec.query;
        byKey[key] = [];
        const has = prefetch !== undefined && Object.hasOwn(prefetch, key);
        const value = has ? prefetch![key] : undefined;
        if (has && value === null) {
          byKey[key] = [];
          sources[key] = 'none';
          return;
        }
        if (has) {
          const checked = fromPrefetch(value, template, context.patientId, key);
          if ('resources' in checked) {
            let resources = checked.resources;
            if (checked.bundle && nextLinkOf(checked.bundle)) {
              if (!this.canFetch()) {
                if (required) {
                  missing.push(key);
                  reasons.push(`${key}: the prefetched Bundle has more pages but no FHIR access was granted`);
                }
                return;
              }
              try {
                resources = [...resources, ...(await this.pages(checked.bundle))];
              } catch (err) {
                if (required) failed(key, err, "the prefetched Bundle's next pages could not be had");
                return;
              }
            }
            byKey[key] = resources;
            sources[key] = 'prefetch';
            return;
          }
          reasons.push(`${key}: prefetch not usable (${checked.reject})`);
          if (checked.field) fields.push(checked.field);
        }
        if (!this.canFetch()) {
          if (required) missing.push(key);
          return;
        }
        try {
          byKey[key] = await this.search(render(template, context));
          sources[key] = 'fetched';
        } catch (err) {
          if (required) failed(key, err, 'the FHIR server query failed');
        }
      }),
    );
    if (slow.length) {
      throw new DataTooSlow(
        `The FHIR server did not deliver required data in time: ${[...slow, ...missing].sort().join(', ')}. ${reasons.join('; ')}.`,
        [...slow, ...missing].sort(),
        Math.max(1, Math.ceil(this.limits.timeoutMs / 1000)),
      );
    }
    if (missing.length) {
      const why = this.access.fhirServer ? '' : ' No fhirServer was given to fetch it from.';
      throw new PreconditionFailed(
        `Required data is missing: ${missing.sort().join(', ')}.${why}${reasons.length ? ` ${reasons.join('; ')}.` : ''}`,
        missing,
        fields,
      );
    }
    return { data: byKey, sources };
  }

  /**
   * Reads Medications referenced by the records but not present: each distinct reference once, at most
   * `concurrency` at a time, each within the timeout and all before the deadline. Best effort for an answer
   * that fails (an unresolved Medication is reported by the exposure engine), but a server too slow to answer
   * is DataTooSlow (503), not a silently lower dose.
   */
  async medications(records: Resource[], known: Resource[]): Promise<Resource[]> {
    if (!this.canFetch()) return [];
    const have = new Set(known.filter((r) => r.resourceType === 'Medication').map((r) => `Medication/${r.id}`));
    const wanted = new Set<string>();
    for (const r of records) {
      const ref = (r as { medicationReference?: { reference?: unknown } }).medicationReference?.reference;
      if (typeof ref === 'string' && MEDICATION_REF.test(ref) && !have.has(ref)) wanted.add(ref);
    }
    const queue = [...wanted];
    const out: Resource[] = [];
    let tooSlow: unknown;
    const worker = async () => {
      while (queue.length && !tooSlow) {
        const ref = queue.shift()!;
        try {
          const r = await timed(
            (signal) => this.fhir().readReference({ reference: ref }, { signal }),
            this.limits.timeoutMs,
            this.access.deadline,
          );
          this.count(1);
          const m = this.checked(r, ref);
          if (m.resourceType === 'Medication' && `Medication/${m.id}` === ref) out.push(m);
        } catch (err) {
          if (err instanceof FhirTimeoutError) tooSlow = err;
          // past the resource cap: no more reads (the rest stay unresolved and are reported)
          else if (this.fetched > this.limits.maxResources) queue.length = 0;
          // otherwise left unresolved: the exposure engine reports it
        }
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, Math.min(this.limits.concurrency, queue.length)) }, worker));
    if (tooSlow)
      throw new DataTooSlow(
        `The FHIR server did not deliver the referenced Medications in time (${messageOf(tooSlow)}).`,
        ['medications'],
        Math.max(1, Math.ceil(this.limits.timeoutMs / 1000)),
      );
    return out;
  }
}
