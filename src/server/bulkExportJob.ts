/**
 * What a Bulk Data group export (https://hl7.org/fhir/uv/bulkdata/STU2/export.html) of the demo server contains,
 * and how it is computed over the in-memory repository; the HTTP side is bulkExportRoutes.ts.
 *
 * - For each _type, the resources whose subject or patient is an active member of the Group (a Patient: itself);
 *   Medication: those referenced by the members' MedicationStatement/Request/Administration.
 * - _since keeps resources whose meta.lastUpdated is after it. Patients added to the Group since are not treated
 *   specially (the IG lets a server return their earlier resources too; this one does not).
 * - _typeFilter queries run as searches on their type, checked as strictly as the search endpoint checks a
 *   search (unknown parameter: 400, unless Prefer: handling=lenient); several for one type are ORed. A client
 *   should still filter what it receives, as the IG allows servers to apply _typeFilter loosely.
 * - Group members that are not Patients or cannot be read are listed in the manifest's error files
 *   (OperationOutcome NDJSON).
 */
import { setTimeout as delay } from 'node:timers/promises';
import { parseSearchRequest } from '@medplum/core';
import type { FhirRepository } from '@medplum/fhir-router';
import type { Group, OperationOutcome, Resource } from '@medplum/fhirtypes';
import type { Request } from 'express';
import { operationOutcome } from '../fhir/outcome.ts';
import { DEMO_RESOURCE_TYPES } from './capabilityStatement.ts';
import { planSearch } from './fhirSearch.ts';
import { type AccessGrant, scopesAllowExport } from './oauthRoutes.ts';

/** What the demo exports: the patient-linked types it holds, and the Medications they reference. */
export const EXPORT_TYPES: readonly string[] = DEMO_RESOURCE_TYPES.filter((t) => t !== 'Provenance');
const MEDICATION_RECORDS = ['MedicationStatement', 'MedicationRequest', 'MedicationAdministration'];
export const NDJSON = 'application/fhir+ndjson';
const OUTPUT_FORMATS = new Set([NDJSON, 'application/ndjson', 'ndjson']);
const KNOWN_PARAMS = new Set(['_outputFormat', '_type', '_since', '_typeFilter']);

export interface ExportFile {
  name: string;
  type: string;
  lines: string[];
}

export interface Job {
  id: string;
  clientId: string;
  request: string;
  state: 'running' | 'done' | 'failed';
  progress: string;
  expiresAt: number;
  lastPollAt?: number;
  transactionTime: string;
  output: ExportFile[];
  errors: ExportFile[];
  abort: AbortController;
}

export interface ExportRequest {
  group: Group;
  types: string[];
  /** Per type, the search queries to run (ORed); absent: all of the type. */
  filters: Map<string, string[]>;
  since?: number;
}

const listOf = (values: string[]): string[] => values.flatMap((v) => v.split(',').map((s) => s.trim())).filter(Boolean);
const patientId = (ref: string | undefined): string | undefined =>
  /(?:^|\/)Patient\/([^/]+?)(?:\/_history\/.*)?$/.exec(ref ?? '')?.[1];

/** The patient a resource belongs to: a Patient itself, else its subject or patient reference. */
function patientOf(r: Resource): string | undefined {
  if (r.resourceType === 'Patient') return r.id;
  const x = r as { subject?: { reference?: string }; patient?: { reference?: string } };
  return patientId(x.subject?.reference) ?? patientId(x.patient?.reference);
}

/** The kick-off's parameters checked (export.html#query-parameters): the request, or the 4xx to answer. */
export function parseKickOff(
  req: Request,
  grant: AccessGrant,
): Omit<ExportRequest, 'group'> | [number, OperationOutcome] {
  const q = new URLSearchParams(req.url.includes('?') ? req.url.slice(req.url.indexOf('?') + 1) : '');
  const lenient = /handling\s*=\s*lenient/i.test(req.get('prefer') ?? '');
  const bad = (text: string): [number, OperationOutcome] => [400, operationOutcome('invalid', text)];
  if (!/respond-async/i.test(req.get('prefer') ?? '')) return bad('The kick-off request needs Prefer: respond-async');
  const accept = req.get('accept');
  if (accept && !/application\/(fhir\+)?json|\*\/\*/.test(accept))
    return bad('Errors are answered as application/fhir+json; Accept must allow it');
  const unknown = [...new Set(q.keys())].filter((k) => !KNOWN_PARAMS.has(k));
  if (unknown.length && !lenient) return bad(`Unsupported parameter ${unknown.join(', ')}`);
  const format = q.get('_outputFormat');
  if (format && !OUTPUT_FORMATS.has(format)) return bad(`Unsupported _outputFormat ${format}`);
  let types = listOf(q.getAll('_type'));
  const unsupported = types.filter((t) => !EXPORT_TYPES.includes(t));
  if (unsupported.length && !lenient) return bad(`This server does not export ${unsupported.join(', ')}`);
  types = types.filter((t) => EXPORT_TYPES.includes(t));
  // Without _type: every supported type the client's authorization covers (export.html#query-parameters).
  if (!types.length) types = EXPORT_TYPES.filter((t) => scopesAllowExport(grant.scopes, t));
  const denied = types.filter((t) => !scopesAllowExport(grant.scopes, t));
  if (!types.length) return [403, operationOutcome('forbidden', "The access token's scopes allow no exported type")];
  if (denied.length)
    return [
      403,
      operationOutcome('forbidden', `The access token's scopes do not allow exporting ${denied.join(', ')}`),
    ];
  const sinceText = q.get('_since');
  const since = sinceText ? Date.parse(sinceText) : undefined;
  // An instant: date, time and zone (https://hl7.org/fhir/R4/datatypes.html#instant); no zone would be read
  // in this server's own.
  if (sinceText && (Number.isNaN(since) || !INSTANT.test(sinceText)))
    return bad(`_since must be a FHIR instant: ${sinceText}`);
  const filters = new Map<string, string[]>();
  for (const f of listOf(q.getAll('_typeFilter'))) {
    const at = f.indexOf('?');
    const type = at < 0 ? f : f.slice(0, at);
    if (!types.includes(type)) {
      if (lenient) continue;
      return bad(`_typeFilter ${type} is not among the exported types`);
    }
    const params = new URLSearchParams(at < 0 ? '' : f.slice(at + 1));
    // "Search response parameters such as _include and _sort SHALL NOT be used" (export.html#_typefilter):
    // they would put other types in a type's file, or change nothing an export can show.
    const result = [...new Set(params.keys())].filter((k) => RESULT_PARAMS.has(k.split(':')[0]!));
    if (result.length && !lenient) return bad(`_typeFilter ${type}: ${result.join(', ')} cannot be used in an export`);
    for (const k of result) params.delete(k);
    const plan = planSearch(type, params, !lenient, {
      defaultPageSize: 1,
      maxPageSize: 1,
    });
    if (!('query' in plan)) return [400, plan];
    const query = new URLSearchParams(plan.query);
    for (const k of ['_count', '_offset', '_total']) query.delete(k);
    filters.set(type, [...(filters.get(type) ?? []), query.toString()]);
  }
  return { types, filters, since };
}

/** Search result parameters, which a _typeFilter may not hold. */
const RESULT_PARAMS = new Set([
  '_include',
  '_revinclude',
  '_sort',
  '_count',
  '_summary',
  '_elements',
  '_contained',
  '_containedType',
  '_total',
  '_offset',
]);

const INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

/**
 * Every resource of a search, page by page: its matches only (an included resource is not the type's). Each page
 * is twice the last: the in-memory repository matches and copies every resource of the type for any page, so
 * that fixed pages of 500 made an export quadratic (51 s at 57,000 resources, the server answering nothing for
 * seconds at a time); doubling reads the type a logarithmic number of times. The event loop is yielded between
 * pages, so the server keeps answering while a job runs.
 */
async function searchAll(repo: FhirRepository, type: string, query: string): Promise<Resource[]> {
  const out: Resource[] = [];
  for (let offset = 0, size = 500; ; offset += size, size *= 2) {
    const bundle = await repo.search(
      parseSearchRequest(`${type}?${query}${query ? '&' : ''}_count=${size}&_offset=${offset}`),
    );
    const page = (bundle.entry ?? []).flatMap((e) =>
      e.resource && (e.search?.mode ?? 'match') === 'match' ? [e.resource as Resource] : [],
    );
    out.push(...page);
    if (page.length < size) return out;
    await new Promise((r) => setImmediate(r));
  }
}

export interface JobSettings {
  repo: FhirRepository;
  minJobMs: number;
  resourcesPerFile: number;
  now: () => number;
}

/** Computes the export into `job` (its files, then state done); returns early once the job is aborted. */
export async function runJob(job: Job, x: ExportRequest, o: JobSettings): Promise<void> {
  const started = o.now();
  const signal = job.abort.signal;
  const members = new Set<string>();
  const problems: OperationOutcome[] = [];
  for (const m of x.group.member ?? []) {
    const id = patientId(m.entity?.reference);
    if (m.inactive) continue;
    if (!id) problems.push(operationOutcome('not-supported', `Group member ${m.entity?.reference} is not a Patient`));
    else if (!(await o.repo.readResource('Patient', id).catch(() => undefined)))
      problems.push(operationOutcome('not-found', `Group member Patient/${id} was not found`));
    else members.add(id);
  }
  const medications = new Set<string>();
  if (x.types.includes('Medication'))
    for (const t of MEDICATION_RECORDS)
      for (const r of await searchAll(o.repo, t, ''))
        if (members.has(patientOf(r) ?? '')) {
          const ref = (r as { medicationReference?: { reference?: string } }).medicationReference?.reference;
          const id = /^Medication\/([^/]+)$/.exec(ref ?? '')?.[1];
          if (id) medications.add(id);
        }
  const addFiles = (to: ExportFile[], type: string, lines: string[]) => {
    for (let k = 0, n = o.resourcesPerFile; k * n < lines.length; k++)
      to.push({ name: `${type}-${k + 1}.ndjson`, type, lines: lines.slice(k * n, (k + 1) * n) });
  };
  for (const [i, type] of x.types.entries()) {
    if (signal.aborted) return;
    job.progress = `${i} of ${x.types.length} resource types exported`;
    const seen = new Set<string>();
    const lines: string[] = [];
    for (const query of x.filters.get(type) ?? ['']) {
      for (const r of await searchAll(o.repo, type, query)) {
        const mine = type === 'Medication' ? medications.has(r.id ?? '') : members.has(patientOf(r) ?? '');
        const changed = Date.parse(r.meta?.lastUpdated ?? '');
        if (!mine || seen.has(r.id!) || (x.since !== undefined && !(changed > x.since))) continue;
        seen.add(r.id!);
        lines.push(JSON.stringify(r));
      }
    }
    addFiles(job.output, type, lines);
    // Yield to the event loop between types: the server keeps answering while a job runs.
    await new Promise((r) => setImmediate(r));
  }
  addFiles(
    job.errors,
    'OperationOutcome',
    problems.map((p) => JSON.stringify(p)),
  );
  const rest = started + o.minJobMs - o.now();
  if (rest > 0) await delay(rest, undefined, { signal });
  job.progress = `${x.types.length} of ${x.types.length} resource types exported`;
  job.state = 'done';
}
