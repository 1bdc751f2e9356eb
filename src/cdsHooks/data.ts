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
import { fhirClient } from '../fhir/patientRecords.ts';
import { patientRefOf, writtenSubjectOf } from '../fhir/subject.ts';
import type { PrefetchSpec } from './serviceDefinition.ts';

/** Required data missing: HTTP 412 (https://cds-hooks.hl7.org/2.0/#http-status-codes). `keys` are the prefetch keys. */
export class PreconditionFailed extends OsteoWatchError {
  readonly keys: string[];
  constructor(message: string, keys: string[]) {
    super('precondition', message);
    this.keys = keys;
  }
}

export interface FhirAccess {
  fhirServer?: string;
  accessToken?: string;
  /** Dev/demo: query a fhirServer that was given without fhirAuthorization (an open server). */
  allowOpenServer: boolean;
}

/** Where each key's data came from. */
export type DataSourceKind = 'prefetch' | 'fetched' | 'none';

const MAX_PAGES = 50;

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

/** Checks a prefetch value; returns its resources, or a reason not to trust it. */
function fromPrefetch(
  value: unknown,
  template: string,
  patientId: string,
): { resources: Resource[]; next?: string } | { reject: string } {
  if (!value || typeof value !== 'object' || Array.isArray(value)) return { reject: 'not a FHIR resource' };
  const r = value as Resource;
  const type = expectedType(template);
  if (r.resourceType === 'OperationOutcome') return { reject: 'the client reported an error (OperationOutcome)' };
  if (template.includes('?')) {
    if (r.resourceType !== 'Bundle') return { reject: `expected a Bundle, got ${r.resourceType ?? 'no resourceType'}` };
    const b = r as Bundle;
    // Prefetch Bundles carry fullUrls like any other (searchset entries too): resolved once, here
    // (https://hl7.org/fhir/R4/bundle.html#references), so that urn:uuid and absolute subjects match Patient/id.
    const resources = resolveEntries(Array.isArray(b.entry) ? b.entry : []).resources.filter(
      (x) => x.resourceType !== 'OperationOutcome',
    );
    if (resources.some((x) => x.resourceType === type && !belongsTo(x, patientId)))
      return { reject: "it holds another patient's resources" };
    return { resources, next: b.link?.find((l) => l.relation === 'next')?.url };
  }
  if (r.resourceType !== type) return { reject: `expected ${type}, got ${r.resourceType ?? 'no resourceType'}` };
  if (!belongsTo(r, patientId)) return { reject: "it is another patient's resource" };
  return { resources: [r] };
}

export class HookDataSource {
  private client?: MedplumClient;
  readonly access: FhirAccess;
  constructor(access: FhirAccess) {
    this.access = access;
  }

  /** Whether the FHIR server may be queried at all for this call. */
  canFetch(): boolean {
    return !!this.access.fhirServer && (!!this.access.accessToken || this.access.allowOpenServer);
  }

  private fhir(): MedplumClient {
    this.client ??= fhirClient(this.access.fhirServer!, this.access.accessToken);
    return this.client;
  }

  private async search(relative: string): Promise<Resource[]> {
    const [type, query] = relative.split('?') as [string, string | undefined];
    if (!query) {
      const [t, id] = type.split('/');
      return [await this.fhir().readResource(t as ResourceType, id!)];
    }
    const out: Resource[] = [];
    for await (const page of this.fhir().searchResourcePages(type as ResourceType, `${query}&_count=200`))
      out.push(...resolveEntries((page.bundle?.entry ?? []) as EntryLike[]).resources);
    return out;
  }

  private async followNext(next: string): Promise<Resource[]> {
    const out: Resource[] = [];
    let url: string | undefined = next;
    for (let i = 0; url && i < MAX_PAGES; i++) {
      const b = (await this.fhir().get(url, { cache: 'no-cache' })) as Bundle;
      out.push(...resolveEntries(b.entry ?? []).resources);
      url = b.link?.find((l) => l.relation === 'next')?.url;
    }
    return out;
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
    const reasons: string[] = [];
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
          const checked = fromPrefetch(value, template, context.patientId);
          if ('resources' in checked) {
            let resources = checked.resources;
            if (checked.next) {
              if (!this.canFetch()) {
                if (required) {
                  missing.push(key);
                  reasons.push(`${key}: the prefetched Bundle has more pages but no FHIR access was granted`);
                }
                return;
              }
              resources = [...resources, ...(await this.followNext(checked.next))];
            }
            byKey[key] = resources;
            sources[key] = 'prefetch';
            return;
          }
          reasons.push(`${key}: prefetch not usable (${checked.reject})`);
        }
        if (!this.canFetch()) {
          if (required) missing.push(key);
          return;
        }
        try {
          byKey[key] = await this.search(render(template, context));
          sources[key] = 'fetched';
        } catch (err) {
          if (!required) return;
          missing.push(key);
          reasons.push(`${key}: the FHIR server query failed (${err instanceof Error ? err.message : String(err)})`);
        }
      }),
    );
    if (missing.length) {
      const why = this.access.fhirServer ? '' : ' No fhirServer was given to fetch it from.';
      throw new PreconditionFailed(
        `Required data is missing: ${missing.sort().join(', ')}.${why}${reasons.length ? ` ${reasons.join('; ')}.` : ''}`,
        missing,
      );
    }
    return { data: byKey, sources };
  }

  /** Reads Medications referenced by the records but not present (best effort: an unresolved one is reported by the engine). */
  async medications(records: Resource[], known: Resource[]): Promise<Resource[]> {
    if (!this.canFetch()) return [];
    const have = new Set(known.filter((r) => r.resourceType === 'Medication').map((r) => `Medication/${r.id}`));
    const wanted = new Set<string>();
    for (const r of records) {
      const ref = (r as { medicationReference?: { reference?: string } }).medicationReference?.reference;
      if (ref?.startsWith('Medication/') && !have.has(ref)) wanted.add(ref);
    }
    const out: Resource[] = [];
    for (const ref of wanted) {
      try {
        out.push(await this.fhir().readReference({ reference: ref }));
      } catch {
        // left unresolved: the exposure engine reports it
      }
    }
    return out;
  }
}
