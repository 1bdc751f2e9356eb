/**
 * `bulk`: the cohort read by FHIR Bulk Data group-level export (https://hl7.org/fhir/uv/bulkdata/STU2/export.html).
 * The status URL is saved with the run before waiting, so that a run restarted after a crash polls the same
 * job instead of starting another. NDJSON files are streamed into a staging table (never held whole in memory),
 * already cut into the run's batches: the Patient files are read first, which gives the cohort's size and so the
 * number of batches; every other line goes to its patient's batch (a hash of the patient's id), buffered per
 * batch and staged as a few large rows. Each batch then reads only its own rows. `_typeFilter` narrows what the
 * server sends, and the same filters are applied again here: a server may ignore them (the spec allows it), and the cards'
 * prefetch searches would not have returned what they exclude.
 */
import type { Resource } from '@medplum/fhirtypes';
import { PATIENT_DATA } from '../cdsHooks/serviceDefinition.ts';
import { referenceKey } from '../exposure/dedupe.ts';
import {
  deleteExport,
  ExportFailedError,
  ExportGoneError,
  exportIssues,
  kickOff,
  lineParser,
  ndjsonLineBatches,
  waitForManifest,
} from '../fhir/bulkExport.ts';
import type { FhirAuth } from '../fhir/fhirAuth.ts';
import { patientRefOf } from '../fhir/subject.ts';
import { FHIR_ID_PATTERN } from '../terminology/fhirId.ts';
import { patientOfLine } from './lineStaging.ts';
import type { RunRow, RunStore } from './runStore.ts';
import { type CohortSource, type LoadedCohort, loadIssueLog, RunEndedError, StagingLostError } from './source.ts';
import { KEY_OF, linesFromChunks, type StagedLines, stagedLine } from './stagedRecords.ts';

export interface BulkOptions {
  fhirBaseUrl: string;
  groupId: string;
  auth: FhirAuth;
  store: RunStore;
  maxWaitSeconds: number;
  retryAfterCapSeconds: number;
  onProgress?: (text: string) => void;
  /** A malformed NDJSON line: kept with the run's load issues and reported here, the rest of the file read on. */
  onBadLine?: (file: string, line: number, problem: string) => void;
}

/** The code filter of each prefetch template that has one ("DiagnosticReport" → system|code): one source of truth. */
const CODE_FILTERS: Record<string, { system: string; code: string }> = Object.fromEntries(
  Object.values(PATIENT_DATA).flatMap((spec) => {
    const m = /^([A-Za-z]+)\?.*\bcode=([^&|]+)\|([^&]+)/.exec(spec.query);
    return m ? [[m[1]!, { system: m[2]!, code: m[3]! }]] : [];
  }),
);

/** The types whose lines may be staged as read (lineStaging.ts): those with no code filter to check. */
export const SCANNED_TYPES: ReadonlySet<string> = new Set(Object.keys(KEY_OF).filter((t) => !CODE_FILTERS[t]));

export const BULK_TYPES = ['Patient', ...Object.keys(KEY_OF), 'Medication'] as const;
export const BULK_TYPE_FILTERS = Object.entries(CODE_FILTERS).map(([type, c]) => `${type}?code=${c.system}|${c.code}`);

/** Whether the resource passes its type's filter (the re-filter a server's _typeFilter does not dispense with). */
export function passesTypeFilter(r: { resourceType?: unknown; code?: unknown }): boolean {
  const f = CODE_FILTERS[r.resourceType as string];
  if (!f) return true;
  const codings = (r.code as { coding?: unknown } | undefined)?.coding;
  return Array.isArray(codings) && codings.some((c) => c?.system === f.system && c?.code === f.code);
}

/** Medication lines per insert. */
const STAGE_ROWS = 1000;
/**
 * Characters buffered for all batches together before every buffer is sent: lines held longer outlive V8's
 * young generation, and at 16 MB the promoted garbage took the load to 425 MB at 100k patients.
 */
const STAGE_BUFFER_CHARS = 4_000_000;
/** Rows per staging insert (two parameters each; PostgreSQL takes at most 65,535). */
const CHUNKS_PER_INSERT = 500;
/**
 * A batch's buffer is sent once it holds this many characters (its share of the buffer, within these bounds).
 * Under V8's large-object size (128 KiB): a larger string skips the young generation, and the chunks a batch reads
 * back would stay in the old one until a full collection (RSS grew by ~90 MB at 1 MB chunks).
 */
const CHUNK_MIN_CHARS = 16_000;
const CHUNK_MAX_CHARS = 100_000;
/** Characters of closed chunks sent in one insert. */
const INSERT_CHARS = 500_000;
/** Inserts in flight while the next lines are read: the database stages while this process parses. */
const STAGE_IN_FLIGHT = 2;
/**
 * Batches when the export holds no Patient resources (the cohort's size unknown until everything is read): a
 * compliant server exports the Group's Patients, so this is the fallback for one that does not.
 */
const BATCHES_WITHOUT_PATIENTS = 64;
const MEDICATION_REF = new RegExp(`^Medication/${FHIR_ID_PATTERN}$`);

/**
 * Where an exported record is staged: its patient and the Medication it references, written as the engine resolves
 * it (relative, absolute or versioned), so that the batch fetches it. Undefined for what no batch reads (another
 * type, or a record outside the type filter), null for a record whose subject is not a Patient.
 */
export function stagingOf(
  r: Record<string, unknown>,
): { patientId: string; medication: string | undefined } | null | undefined {
  if (!KEY_OF[r.resourceType as string] || !passesTypeFilter(r)) return undefined;
  const ref = patientRefOf(r as unknown as Resource);
  if (!ref) return null;
  const medication = referenceKey(
    (r as { medicationReference?: { reference?: string } }).medicationReference?.reference,
  );
  return {
    patientId: ref.slice('Patient/'.length),
    medication: medication && MEDICATION_REF.test(medication) ? medication : undefined,
  };
}

/** The batch of a patient: FNV-1a of the id, so that every reader of the export agrees without asking. */
export function batchOf(patientId: string, batches: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < patientId.length; i++) h = Math.imul(h ^ patientId.charCodeAt(i), 0x01000193);
  return (h >>> 0) % batches;
}

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
  /** One attempt at the load: the export (started, or the saved one polled), its files read and staged. */
  async function loadOnce(run: RunRow, { batchSize }: { batchSize: number }): Promise<LoadedCohort> {
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
    // Asked before each file and each insert (a primary-key read beside half a megabyte sent): a run cancelled
    // meanwhile stops reading its export; the runner then deletes the job and what was staged.
    const stillLoading = async () => {
      if ((await o.store.statusOf(run.runId)) !== 'loading') throw new RunEndedError(run.runId);
    };
    // The cohort is the Group's patients that were exported (Patient resources); a patient without a Patient
    // resource but with records is still evaluated. Both are collected here as the files are read (a resumed
    // load reads every file again), rather than by a `select distinct` over everything staged afterwards.
    const patients = new Set<string>();
    const issues = loadIssueLog();
    const inserts = pipeline(STAGE_IN_FLIGHT);
    // Patient files first: their count fixes the number of batches before any record is staged.
    const files = [...manifest.output].sort((a, b) => Number(b.type === 'Patient') - Number(a.type === 'Patient'));
    let batches = 0;
    let buffers: string[][] = [];
    let sizes: number[] = [];
    let buffered = 0;
    let chunkChars = CHUNK_MAX_CHARS;
    const startBatches = () => {
      batches = patients.size ? Math.ceil(patients.size / batchSize) : BATCHES_WITHOUT_PATIENTS;
      buffers = Array.from({ length: batches }, () => []);
      sizes = new Array<number>(batches).fill(0);
      chunkChars = Math.min(CHUNK_MAX_CHARS, Math.max(CHUNK_MIN_CHARS, Math.floor(STAGE_BUFFER_CHARS / batches)));
    };
    // Chunks closed (joined) and waiting for their insert: sent together, a few hundred kilobytes a statement
    // (an insert per 100 KB chunk cost a round trip and a statement each: 900 of them at 10,000 patients).
    let ready: Array<{ batchNo: number; lines: string }> = [];
    let readyChars = 0;
    const sendReady = async () => {
      const rows = ready;
      buffered -= readyChars;
      ready = [];
      readyChars = 0;
      await stillLoading();
      for (let i = 0; i < rows.length; i += CHUNKS_PER_INSERT)
        await inserts.send(o.store.stageChunks(run.runId, rows.slice(i, i + CHUNKS_PER_INSERT)));
    };
    /** Closes the buffers of these batches into chunks, one row each; sent once enough are ready. */
    const sendChunks = async (which: number[], now = false) => {
      for (const b of which) {
        if (!sizes[b]) continue;
        ready.push({ batchNo: b, lines: buffers[b]!.join('\n') });
        readyChars += sizes[b]!;
        buffers[b] = [];
        sizes[b] = 0;
      }
      if (now || readyChars >= INSERT_CHARS) await sendReady();
    };
    const all = () => sizes.map((_, b) => b);
    let meds: Array<{ ref: string; text: string }> = [];
    let medChars = 0;
    const sendMeds = async () => {
      if (meds.length) await inserts.send(o.store.stageMedications(run.runId, meds));
      meds = [];
      medChars = 0;
    };
    /**
     * Buffers a line for its patient's batch; full buffers are sent, and only then is there something to await
     * (most lines: nothing, and no promise made for them).
     */
    const stage = (patientId: string, medication: string | undefined, text: string): Promise<void> | undefined => {
      const line = stagedLine(patientId, medication, text);
      const b = batchOf(patientId, batches);
      buffers[b]!.push(line);
      sizes[b]! += line.length + 1;
      buffered += line.length + 1;
      if (sizes[b]! >= chunkChars) return sendChunks([b]);
      if (buffered >= STAGE_BUFFER_CHARS) return sendChunks(all(), true);
      return undefined;
    };
    const stageFiles = async (): Promise<void> => {
      for (const file of files) {
        await stillLoading();
        if (file.type !== 'Patient' && !batches) startBatches();
        const read = {
          auth: o.auth,
          requiresAccessToken: manifest.requiresAccessToken,
          fhirBaseUrl: o.fhirBaseUrl,
          onBadLine: (line: number, problem: string) => {
            issues.add({ severity: 'error', file: file.type, line, message: `line skipped: ${problem}` });
            o.onBadLine?.(file.type, line, problem);
          },
        };
        const entryOf = lineParser(file.url, read);
        for await (const lines of ndjsonLineBatches(file.url, read))
          for (const l of lines) {
            // Most records' patient is read off the line (parsed once, where the patient is evaluated).
            const quick = batches ? patientOfLine(l.text, SCANNED_TYPES) : undefined;
            if (quick) {
              patients.add(quick);
              const sent = stage(quick, undefined, l.text);
              if (sent) await sent;
              continue;
            }
            const entry = entryOf(l);
            if (!entry) continue;
            const { resource: r, text, line: lineNo } = entry;
            const type = r.resourceType as string;
            if (type === 'Medication' && typeof r.id === 'string') {
              meds.push({ ref: `Medication/${r.id}`, text });
              medChars += text.length;
              if (meds.length >= STAGE_ROWS || medChars >= CHUNK_MAX_CHARS) await sendMeds();
            } else if (type === 'Patient' && typeof r.id === 'string') patients.add(r.id);
            else {
              const staging = stagingOf(r);
              if (staging === undefined) continue;
              // A record in a Patient file (a server may mix types): the batches are fixed from what was read.
              if (!batches) startBatches();
              if (!staging) {
                issues.add({
                  severity: 'warning',
                  file: file.type,
                  line: lineNo,
                  message: `${type}/${String(r.id)} skipped: its subject is not a Patient of the export`,
                });
                continue;
              }
              patients.add(staging.patientId);
              const sent = stage(staging.patientId, staging.medication, text);
              if (sent) await sent;
            }
          }
      }
      if (!batches) startBatches();
      await sendChunks(all(), true);
      await sendMeds();
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
    // What the server says it could not export: a Group member missing from the output is reported, not lost.
    // A diagnostics file that cannot be read is itself an issue, never the load's failure.
    try {
      for await (const issue of exportIssues(manifest, {
        auth: o.auth,
        fhirBaseUrl: o.fhirBaseUrl,
        onBadLine: (line, problem) =>
          issues.add({ severity: 'error', file: 'error', line, message: `line skipped: ${problem}` }),
      }))
        issues.add({ severity: issue.severity, file: 'error', message: issue.message });
    } catch (err) {
      issues.add({
        severity: 'error',
        file: 'error',
        message: `the error file could not be read: ${(err as Error).message}`,
      });
    }
    await o.store.markStaged(run.runId);
    const patientIds = [...patients].sort();
    const cut: string[][] = Array.from({ length: batches }, () => []);
    for (const id of patientIds) cut[batchOf(id, batches)]!.push(id);
    return { patientIds, batches: cut, transactionTime: manifest.transactionTime, issues: issues.value };
  }

  return {
    mode: 'bulk',
    async load(run, options) {
      try {
        return await loadOnce(run, options);
      } catch (err) {
        // A job that failed, or whose files are gone (expired), is of no more use: deleted (the server may limit
        // the jobs a client holds) and forgotten, so that the retry starts a new export instead of polling or
        // reading the dead one again.
        if (err instanceof ExportFailedError || err instanceof ExportGoneError)
          try {
            const url = (await o.store.getRun(run.runId))?.exportStatusUrl;
            if (url) await deleteExport(url, o.auth).catch(() => undefined);
            await o.store.update(run.runId, { exportStatusUrl: null });
          } catch {
            // The cleanup failing (the database away) must not hide why the load failed.
          }
        throw err;
      }
    },
    // Lines, not parsed here: each is parsed where its patient is evaluated (this thread or an evaluation worker).
    async records(patientIds, run, batchNo): Promise<Map<string, StagedLines>> {
      const staged = await o.store.stagedBatch(run.runId, batchNo);
      if (!staged.complete) throw new StagingLostError(run.runId);
      const lines = linesFromChunks(staged.chunks, new Set(patientIds));
      const meds = await o.store.stagedMedications(run.runId, [
        ...new Set([...lines.values()].flatMap((p) => [...p.refs])),
      ]);
      return new Map(
        patientIds.map((id) => {
          const p = lines.get(id);
          return [
            id,
            { staged: p?.staged ?? [], medications: p ? [...p.refs].flatMap((ref) => meds.get(ref) ?? []) : [] },
          ];
        }),
      );
    },
    async finish(run) {
      // The server may keep the files for a while; the spec asks clients to delete a job they are done with.
      if (run.exportStatusUrl) await deleteExport(run.exportStatusUrl, o.auth).catch(() => undefined);
      await o.store.clearStaging(run.runId);
    },
  };
}
