/**
 * `bulk`: the cohort read by FHIR Bulk Data group-level export (https://hl7.org/fhir/uv/bulkdata/STU2/export.html).
 * The status URL is saved with the run before waiting, so that a run restarted after a crash polls the same
 * job instead of starting another. NDJSON files are streamed into a staging table keyed by patient (never held
 * whole in memory); each batch then reads only its patients. `_typeFilter` narrows what the server sends, and
 * the same filters are applied again here: a server may ignore them (the spec allows it), and the cards'
 * prefetch searches would not have returned what they exclude.
 */
import type { Resource } from '@medplum/fhirtypes';
import { PATIENT_DATA } from '../cdsHooks/serviceDefinition.ts';
import { deleteExport, ExportGoneError, kickOff, ndjsonResources, waitForManifest } from '../fhir/bulkExport.ts';
import type { FhirAuth } from '../fhir/fhirAuth.ts';
import { patientRefOf } from '../fhir/subject.ts';
import type { PatientRecords } from '../screening/assess.ts';
import type { RunStore } from './runStore.ts';
import type { CohortSource, LoadedCohort } from './source.ts';

export interface BulkOptions {
  fhirBaseUrl: string;
  groupId: string;
  auth: FhirAuth;
  store: RunStore;
  maxWaitSeconds: number;
  retryAfterCapSeconds: number;
  onProgress?: (text: string) => void;
  /** A malformed NDJSON line: reported, the rest of the file read on. */
  onBadLine?: (file: string, line: number, problem: string) => void;
}

/** The record kinds as the CDS prefetch keys name them, by resource type (Observation etc. filtered by code). */
const KEY_OF: Record<string, keyof PatientRecords> = {
  Condition: 'conditions',
  MedicationStatement: 'medicationStatements',
  MedicationRequest: 'medicationRequests',
  MedicationAdministration: 'medicationAdministrations',
  ImagingStudy: 'imagingStudies',
  DiagnosticReport: 'diagnosticReports',
  ServiceRequest: 'serviceRequests',
  Observation: 'osteonecrosisObservations',
};

/** The code filter of each prefetch template that has one ("DiagnosticReport" → system|code): one source of truth. */
const CODE_FILTERS: Record<string, { system: string; code: string }> = Object.fromEntries(
  Object.values(PATIENT_DATA).flatMap((spec) => {
    const m = /^([A-Za-z]+)\?.*\bcode=([^&|]+)\|([^&]+)/.exec(spec.query);
    return m ? [[m[1]!, { system: m[2]!, code: m[3]! }]] : [];
  }),
);

export const BULK_TYPES = ['Patient', ...Object.keys(KEY_OF), 'Medication'] as const;
export const BULK_TYPE_FILTERS = Object.entries(CODE_FILTERS).map(([type, c]) => `${type}?code=${c.system}|${c.code}`);

/** Whether the resource passes its type's filter (the re-filter a server's _typeFilter does not dispense with). */
export function passesTypeFilter(r: { resourceType?: unknown; code?: unknown }): boolean {
  const f = CODE_FILTERS[r.resourceType as string];
  if (!f) return true;
  const codings = (r.code as { coding?: unknown } | undefined)?.coding;
  return Array.isArray(codings) && codings.some((c) => c?.system === f.system && c?.code === f.code);
}

const STAGE_CHUNK = 500;

export function bulkSource(o: BulkOptions): CohortSource {
  return {
    mode: 'bulk',
    async load(run): Promise<LoadedCohort> {
      const start = async () => {
        const url = await kickOff({
          fhirBaseUrl: o.fhirBaseUrl,
          groupId: o.groupId,
          types: BULK_TYPES,
          typeFilter: BULK_TYPE_FILTERS,
          auth: o.auth,
        });
        await o.store.update(run.runId, { exportStatusUrl: url });
        return url;
      };
      const wait = (url: string) =>
        waitForManifest(url, {
          auth: o.auth,
          maxWaitSeconds: o.maxWaitSeconds,
          retryAfterCapSeconds: o.retryAfterCapSeconds,
          onProgress: (p) => o.onProgress?.(p.progress ?? 'export in progress'),
        });
      let manifest: Awaited<ReturnType<typeof waitForManifest>>;
      try {
        // A restarted run polls the job it started (saved with the run) instead of starting another.
        manifest = await wait(run.exportStatusUrl ?? (await start()));
      } catch (err) {
        // The server no longer knows the saved job (it expired, or the server restarted): start a new one.
        if (!(err instanceof ExportGoneError) || !run.exportStatusUrl) throw err;
        manifest = await wait(await start());
      }
      // A load resumed after a crash stages from the start: what a killed load staged is dropped first.
      await o.store.clearStaging(run.runId);
      // The cohort is the Group's patients that were exported (Patient resources); a patient without a Patient
      // resource but with records is still evaluated. Both are collected here as the files are read (a resumed
      // load reads every file again), rather than by a `select distinct` over everything staged afterwards.
      const patients = new Set<string>();
      for (const file of manifest.output) {
        let rows: Array<{ patientId: string; type: string; resource: unknown }> = [];
        let meds: Array<{ ref: string; resource: unknown }> = [];
        for await (const r of ndjsonResources(file.url, {
          auth: o.auth,
          requiresAccessToken: manifest.requiresAccessToken,
          fhirBaseUrl: o.fhirBaseUrl,
          onBadLine: (line, problem) => o.onBadLine?.(file.type, line, problem),
        })) {
          const type = r.resourceType as string;
          if (type === 'Medication' && typeof r.id === 'string') meds.push({ ref: `Medication/${r.id}`, resource: r });
          else if (type === 'Patient' && typeof r.id === 'string') patients.add(r.id);
          else if (KEY_OF[type] && passesTypeFilter(r)) {
            const ref = patientRefOf(r as unknown as Resource);
            if (ref) {
              const patientId = ref.slice('Patient/'.length);
              patients.add(patientId);
              rows.push({ patientId, type, resource: r });
            }
          }
          if (rows.length >= STAGE_CHUNK) {
            await o.store.stage(run.runId, rows);
            rows = [];
          }
          if (meds.length >= STAGE_CHUNK) {
            await o.store.stageMedications(run.runId, meds);
            meds = [];
          }
        }
        await o.store.stage(run.runId, rows);
        await o.store.stageMedications(run.runId, meds);
      }
      return { patientIds: [...patients].sort(), transactionTime: manifest.transactionTime };
    },
    async records(patientIds, run): Promise<Map<string, PatientRecords | Error>> {
      const out = new Map<string, PatientRecords>();
      const empty = (): PatientRecords => ({
        conditions: [],
        medicationStatements: [],
        medicationRequests: [],
        medicationAdministrations: [],
        medications: [],
        imagingStudies: [],
        diagnosticReports: [],
        serviceRequests: [],
        osteonecrosisObservations: [],
      });
      for (const id of patientIds) out.set(id, empty());
      const refs = new Set<string>();
      for (const { patientId, resource } of await o.store.stagedFor(run.runId, patientIds)) {
        const key = KEY_OF[resource.resourceType as string];
        if (!key) continue;
        out.get(patientId)?.[key].push(resource as unknown as Resource);
        const ref = (resource as { medicationReference?: { reference?: unknown } }).medicationReference?.reference;
        if (typeof ref === 'string' && ref.startsWith('Medication/')) refs.add(ref);
      }
      const meds = (await o.store.stagedMedications(run.runId, [...refs])) as unknown as Resource[];
      for (const records of out.values()) {
        const wanted = new Set(
          [...records.medicationStatements, ...records.medicationRequests, ...records.medicationAdministrations].map(
            (r) => (r as { medicationReference?: { reference?: string } }).medicationReference?.reference,
          ),
        );
        records.medications = meds.filter((m) => wanted.has(`Medication/${m.id}`));
      }
      return out;
    },
    async finish(run) {
      // The server may keep the files for a while; the spec asks clients to delete a job they are done with.
      if (run.exportStatusUrl) await deleteExport(run.exportStatusUrl, o.auth).catch(() => undefined);
      await o.store.clearStaging(run.runId);
    },
  };
}
