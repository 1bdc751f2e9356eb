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
import { deleteExport, ExportGoneError, kickOff, ndjsonEntries, waitForManifest } from '../fhir/bulkExport.ts';
import type { FhirAuth } from '../fhir/fhirAuth.ts';
import { patientRefOf } from '../fhir/subject.ts';
import type { RunStore } from './runStore.ts';
import { type CohortSource, type LoadedCohort, StagingLostError } from './source.ts';
import { KEY_OF, type StagedLines } from './stagedRecords.ts';

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

/** Lines per insert, and characters: a chunk is sent when either is reached. */
const STAGE_ROWS = 1000;
const STAGE_CHARS = 2_000_000;
/** Inserts in flight while the next chunk is read: the database stages while this process parses. */
const STAGE_IN_FLIGHT = 2;

/**
 * Sends inserts without waiting for each, at most `limit` at once; the first failure is thrown by the next send
 * or by drain (none is left unobserved).
 */
function pipeline(limit: number) {
  const inFlight = new Set<Promise<void>>();
  let failure: { err: unknown } | undefined;
  const check = () => {
    if (failure) throw failure.err;
  };
  return {
    async send(insert: Promise<void>): Promise<void> {
      const tracked: Promise<void> = insert.then(
        () => void inFlight.delete(tracked),
        (err) => {
          inFlight.delete(tracked);
          failure ??= { err };
        },
      );
      inFlight.add(tracked);
      if (inFlight.size >= limit) await Promise.race(inFlight);
      check();
    },
    async drain(): Promise<void> {
      await Promise.all(inFlight);
      check();
    },
  };
}

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
      const inserts = pipeline(STAGE_IN_FLIGHT);
      const stageFiles = async (): Promise<void> => {
        for (const file of manifest.output) {
          let rows: Array<{ patientId: string; type: string; text: string; medication?: string }> = [];
          let meds: Array<{ ref: string; text: string }> = [];
          let chars = 0;
          const flush = async () => {
            if (rows.length) await inserts.send(o.store.stage(run.runId, rows));
            if (meds.length) await inserts.send(o.store.stageMedications(run.runId, meds));
            rows = [];
            meds = [];
            chars = 0;
          };
          for await (const { resource: r, text } of ndjsonEntries(file.url, {
            auth: o.auth,
            requiresAccessToken: manifest.requiresAccessToken,
            fhirBaseUrl: o.fhirBaseUrl,
            onBadLine: (line, problem) => o.onBadLine?.(file.type, line, problem),
          })) {
            const type = r.resourceType as string;
            if (type === 'Medication' && typeof r.id === 'string') {
              meds.push({ ref: `Medication/${r.id}`, text });
              chars += text.length;
            } else if (type === 'Patient' && typeof r.id === 'string') patients.add(r.id);
            else if (KEY_OF[type] && passesTypeFilter(r)) {
              const ref = patientRefOf(r as unknown as Resource);
              if (ref) {
                const patientId = ref.slice('Patient/'.length);
                patients.add(patientId);
                const medication = (r as { medicationReference?: { reference?: unknown } }).medicationReference
                  ?.reference;
                rows.push({
                  patientId,
                  type,
                  text,
                  ...(typeof medication === 'string' && medication.startsWith('Medication/') ? { medication } : {}),
                });
                chars += text.length;
              }
            }
            if (rows.length + meds.length >= STAGE_ROWS || chars >= STAGE_CHARS) await flush();
          }
          await flush();
        }
      };
      try {
        await stageFiles();
      } catch (err) {
        // Nothing of this attempt may land after the next attempt's clearStaging: a line staged twice would
        // count its doses twice.
        await inserts.drain().catch(() => undefined);
        throw err;
      }
      await inserts.drain();
      await o.store.markStaged(run.runId);
      return { patientIds: [...patients].sort(), transactionTime: manifest.transactionTime };
    },
    // Lines, not parsed here: each is parsed where its patient is evaluated (this thread or an evaluation worker).
    async records(patientIds, run): Promise<Map<string, StagedLines>> {
      const out = new Map<string, StagedLines & { refs: Set<string> }>();
      for (const id of patientIds) out.set(id, { staged: [], medications: [], refs: new Set() });
      const staged = await o.store.stagedFor(run.runId, patientIds);
      if (!staged.complete) throw new StagingLostError(run.runId);
      for (const { patientId, text, medication } of staged.rows) {
        const p = out.get(patientId);
        if (!p) continue;
        p.staged.push(text);
        if (medication) p.refs.add(medication);
      }
      const meds = await o.store.stagedMedications(run.runId, [
        ...new Set([...out.values()].flatMap((p) => [...p.refs])),
      ]);
      return new Map(
        [...out].map(([id, p]) => [
          id,
          { staged: p.staged, medications: [...p.refs].flatMap((ref) => meds.get(ref) ?? []) },
        ]),
      );
    },
    async finish(run) {
      // The server may keep the files for a while; the spec asks clients to delete a job they are done with.
      if (run.exportStatusUrl) await deleteExport(run.exportStatusUrl, o.auth).catch(() => undefined);
      await o.store.clearStaging(run.runId);
    },
  };
}
