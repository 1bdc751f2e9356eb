/**
 * Writes a findings document to the EHR's FHIR server as one transaction: conditional updates on the
 * deterministic identifiers (re-ingesting the same study updates, never duplicates; a changed read becomes
 * `amended`), a Provenance at a stable id, every resource validated against profiles/ first, and the write
 * recorded in the audit trail. A patient the server does not know is refused and nothing is written; a study
 * date in the future is refused; every refusal is recorded in the audit trail as a `write-back-refused`.
 */
import { type MedplumClient, OperationOutcomeError, validateResource } from '@medplum/core';
import type { Bundle, DiagnosticReport, Observation, Resource } from '@medplum/fhirtypes';
import type { AuditLog } from '../audit/auditLog.ts';
import { type ErrorKind, httpStatusOf, OsteoWatchError } from '../errors.ts';
import { loadFhirDefinitions } from '../fhir/definitions.ts';
import { outcomeText } from '../fhir/outcome.ts';
import { findingProfile, reportProfile } from '../profiles/catalog.ts';
import { FHIR_ID_PATTERN } from '../terminology/fhirId.ts';
import { assertStudyDateNotFuture, type FindingsDocument } from './findingsDocument.ts';
import { FINDING_ID_SYSTEM, REPORT_ID_SYSTEM, toFhir } from './toFhir.ts';

/** Each failure by the HTTP status it is answered with: 422 for an unknown patient, 502 for the FHIR server, 500 ours. */
const KIND_OF_STATUS: Readonly<Record<number, ErrorKind>> = { 422: 'unprocessable', 502: 'upstream' };

export class WriteBackError extends OsteoWatchError {
  readonly status: number;
  constructor(status: number, message: string) {
    // An unknown patient is reported as the FHIR server reported it: not-found.
    super(KIND_OF_STATUS[status] ?? 'internal', message, status === 422 ? { code: 'not-found' } : {});
    this.status = status;
  }
}

export interface WriteBackResult {
  outcome: 'created' | 'updated' | 'amended' | 'unchanged';
  observations: string[];
  diagnosticReport: string;
  provenance: string;
  conclusion: string;
}

const uuid = (n: number) => `urn:uuid:0000${String(n).padStart(4, '0')}-0000-4000-8000-${String(n).padStart(12, '0')}`;
/** What makes two reads of a site the same finding. */
const essence = (o: Observation) =>
  JSON.stringify({ v: o.valueCodeableConcept?.coding?.[0]?.code, c: o.component ?? [] });

function validate(r: Resource, profile = r.resourceType === 'Observation' ? findingProfile() : reportProfile()): void {
  loadFhirDefinitions();
  try {
    const errors = validateResource(r, { profile }).filter((i) => i.severity === 'error');
    if (errors.length)
      throw new WriteBackError(500, `${r.resourceType} failed its profile: ${outcomeText({ issue: errors })}`);
  } catch (err) {
    if (err instanceof OperationOutcomeError)
      throw new WriteBackError(500, `${r.resourceType} failed its profile: ${outcomeText(err.outcome)}`);
    throw err;
  }
}

async function find<T extends Resource>(
  client: MedplumClient,
  type: 'Observation' | 'DiagnosticReport',
  system: string,
  values: string[],
): Promise<Map<string, T>> {
  const out = new Map<string, T>();
  let bundle: Bundle;
  try {
    bundle = await client.search(
      type,
      { identifier: values.map((v) => `${system}|${v}`).join(','), _count: '100' },
      { cache: 'no-cache' },
    );
  } catch (err) {
    throw new WriteBackError(502, `cannot search ${type} on the FHIR server: ${upstreamText(err)}`);
  }
  for (const e of bundle.entry ?? []) {
    const r = e.resource as T & { identifier?: Array<{ system?: string; value?: string }> };
    const v = r.identifier?.find((i) => i.system === system)?.value;
    if (v) out.set(v, r);
  }
  return out;
}

/** A study's findings written for one patient, when the EHR already holds that study for another: nothing is written. */
export class StudyOfAnotherPatientError extends OsteoWatchError {
  constructor(studyUid: string) {
    // The other patient is not named: the caller may not be entitled to know who it is.
    super(
      'conflict',
      `Study ${studyUid} is already recorded for another patient; findings are written only to the patient the study belongs to, and nothing was written`,
    );
  }
}

/** The patient a resource is about ("Patient/ID"), from its subject. */
const subjectOf = (r: Observation | DiagnosticReport): string | undefined => r.subject?.reference;

/**
 * Write-backs of one study, one at a time in this process: the check of what exists and the transaction that
 * follows are not interleaved with another write of the same study (concurrent identical posts: one `created`,
 * the others `unchanged`; a concurrent post for another patient sees the first one's resources and is refused).
 */
const inFlight = new Map<string, Promise<unknown>>();

async function oneAtATime<T>(key: string, fn: () => Promise<T>): Promise<T> {
  const before = inFlight.get(key) ?? Promise.resolve();
  const run = before.then(fn, fn);
  const settled = run.then(
    () => undefined,
    () => undefined,
  );
  inFlight.set(key, settled);
  try {
    return await run;
  } finally {
    if (inFlight.get(key) === settled) inFlight.delete(key);
  }
}

export interface WriteFindingsOptions {
  client: MedplumClient;
  now: Date;
  audit?: AuditLog;
  fhirServer?: string;
  actor?: string;
  tenant?: string;
}

/** What a FHIR server's refusal says (its OperationOutcome's texts), or the error's message. */
function upstreamText(err: unknown): string {
  return err instanceof OperationOutcomeError
    ? (outcomeText(err.outcome) ?? err.message)
    : err instanceof Error
      ? err.message
      : String(err);
}

// ---------------------------------------------------------------------------------------------------------------
// Refused write-backs in the audit trail

/** Errors already accounted for in the audit trail (a refusal recorded, or a write recorded or failing to be). */
const accounted = new WeakSet<object>();
const account = (err: unknown): void => {
  if (err && typeof err === 'object') accounted.add(err);
};

/** Which field names a refused document's fields may be recorded under: the document's own, nothing a caller made up. */
const DOCUMENT_FIELDS = new Set([
  'patient',
  'studyInstanceUid',
  'studyDate',
  'reader',
  'display',
  'reference',
  'sites',
  'joint',
  'side',
  'osteonecrosis',
  'hipWeightBearingShare',
  'necroticSharePercent',
  'condyles',
  'articularSurface',
  'collapse',
]);
const isDocumentField = (f: string): boolean =>
  f.length <= 128 && f.split('.').every((part) => DOCUMENT_FIELDS.has(part.replace(/(\[\d{1,4}\])+$/, '')));

/** The HTTP status a refusal is answered with, and its reason: the error kind, or what the body parser said. */
function refusalOf(err: unknown): { status: number; reason: string; fields: string[] } {
  if (err instanceof OsteoWatchError)
    return {
      status: err instanceof WriteBackError ? err.status : httpStatusOf(err.kind),
      reason: err.kind,
      fields: (err.details.expression ?? []).filter(isDocumentField).slice(0, 20),
    };
  const e = (err ?? {}) as { status?: unknown; type?: unknown };
  if (typeof e.status === 'number' && e.status >= 400 && e.status < 500)
    return { status: e.status, reason: e.status === 413 ? 'too-large' : 'invalid', fields: [] };
  return { status: 500, reason: 'internal', fields: [] };
}

export interface RefusalContext {
  now: Date;
  /** What the caller sent: the patient ("Patient/<id>") and study UID are recorded when they are well-formed. */
  patient?: unknown;
  studyUid?: unknown;
  fhirServer?: string;
  actor?: string;
  tenant?: string;
}

const PATIENT_REF = new RegExp(`^Patient/(${FHIR_ID_PATTERN})$`);
const STUDY_UID = /^[0-2](\.(0|[1-9][0-9]*))+$/;

/**
 * Records that a write-back was refused (`write-back-refused`): who asked, the patient id and study UID when the
 * document names them well-formed, the status answered, the reason (the error kind) and the fields found wrong —
 * never the document's other content nor the error's text, which may quote it. Once per error: a refusal
 * passes through writeFindings and the HTTP route, and only the first records it. A failure to record does not
 * replace the refusal the caller is owed (it is the caller's answer that says what was wrong).
 */
export async function recordRefusedWriteBack(
  audit: AuditLog | undefined,
  err: unknown,
  ctx: RefusalContext,
): Promise<void> {
  if (!audit || (err && typeof err === 'object' && accounted.has(err))) return;
  account(err);
  const { status, reason, fields } = refusalOf(err);
  const patientId = typeof ctx.patient === 'string' ? PATIENT_REF.exec(ctx.patient)?.[1] : undefined;
  const studyUid =
    typeof ctx.studyUid === 'string' && ctx.studyUid.length <= 64 && STUDY_UID.test(ctx.studyUid)
      ? ctx.studyUid
      : undefined;
  await audit
    .recordWriteBackRefused({
      recordedAt: ctx.now.toISOString(),
      patientId,
      studyUid,
      status,
      reason,
      ...(fields.length ? { fields } : {}),
      fhirServer: ctx.fhirServer,
      actor: ctx.actor,
      tenant: ctx.tenant,
    })
    .catch(() => undefined);
}

export function writeFindings(doc: FindingsDocument, o: WriteFindingsOptions): Promise<WriteBackResult> {
  return oneAtATime(`${o.fhirServer ?? ''}|${doc.studyInstanceUid}`, () => writeAndRecord(doc, o));
}

/** The write and its audit record: a write-back, or — when nothing was written — a refused write-back. */
async function writeAndRecord(doc: FindingsDocument, o: WriteFindingsOptions): Promise<WriteBackResult> {
  let written: Written;
  try {
    written = await writeFindingsNow(doc, o);
  } catch (err) {
    // Nothing was written: the refusal is recorded (a failure to record the write itself is not a refusal).
    await recordRefusedWriteBack(o.audit, err, {
      now: o.now,
      patient: doc.patient,
      studyUid: doc.studyInstanceUid,
      fhirServer: o.fhirServer,
      actor: o.actor,
      tenant: o.tenant,
    });
    throw err;
  }
  try {
    await o.audit?.recordWriteBack({
      recordedAt: o.now.toISOString(),
      patientId: written.patientId,
      studyUid: doc.studyInstanceUid,
      studyDate: doc.studyDate,
      resourceRefs: written.refs,
      fhirServer: o.fhirServer,
      actor: o.actor,
    });
  } catch (err) {
    account(err);
    throw err;
  }
  return written.result;
}

interface Written {
  patientId: string;
  refs: string[];
  result: WriteBackResult;
}

async function writeFindingsNow(doc: FindingsDocument, o: WriteFindingsOptions): Promise<Written> {
  assertStudyDateNotFuture(doc, o.now);
  const patientId = doc.patient.slice('Patient/'.length);
  try {
    await o.client.readResource('Patient', patientId, { cache: 'no-cache' });
  } catch (err) {
    if (err instanceof OperationOutcomeError && err.outcome.issue?.[0]?.code === 'not-found')
      throw new WriteBackError(422, `${doc.patient} does not exist on the FHIR server; nothing was written`);
    throw new WriteBackError(502, `cannot read ${doc.patient} from the FHIR server: ${(err as Error).message}`);
  }
  const { observations, report, provenance } = toFhir(doc, o.now.toISOString());
  const obsKeys = observations.map((x) => x.identifier![0]!.value!);
  const [priorObs, priorReport] = await Promise.all([
    find<Observation>(o.client, 'Observation', FINDING_ID_SYSTEM, obsKeys),
    find<DiagnosticReport>(o.client, 'DiagnosticReport', REPORT_ID_SYSTEM, [doc.studyInstanceUid]),
  ]);
  // A write-back only ever updates resources of its own patient: a study UID reused for another patient (a
  // mix-up, or a forged document) must not move the first patient's findings.
  const others = [...priorObs.values(), ...priorReport.values()].filter((r) => subjectOf(r) !== doc.patient);
  if (others.length) throw new StudyOfAnotherPatientError(doc.studyInstanceUid);
  let changed = false;
  for (const obs of observations) {
    const prior = priorObs.get(obs.identifier![0]!.value!);
    if (prior && essence(prior) !== essence(obs)) {
      obs.status = 'amended';
      changed = true;
    } else if (prior) {
      obs.status = prior.status;
    }
  }
  const existedBefore = priorObs.size > 0 || priorReport.size > 0;
  const oldReport = priorReport.get(doc.studyInstanceUid);
  if (oldReport && (changed || oldReport.conclusion !== report.conclusion)) report.status = 'amended';
  else if (oldReport) report.status = oldReport.status;
  for (const obs of observations) validate(obs);
  report.result = observations.map((_x, i) => ({ reference: uuid(i + 1) }));
  validate({ ...report, result: observations.map(() => ({ reference: 'Observation/placeholder' })) });
  const reportUrn = uuid(observations.length + 1);
  provenance.target = [...observations.map((_x, i) => ({ reference: uuid(i + 1) })), { reference: reportUrn }];

  const bundle: Bundle = {
    resourceType: 'Bundle',
    type: 'transaction',
    entry: [
      ...observations.map((obs, i) => ({
        fullUrl: uuid(i + 1),
        resource: obs,
        request: {
          method: 'PUT' as const,
          url: `Observation?identifier=${encodeURIComponent(`${FINDING_ID_SYSTEM}|${obs.identifier![0]!.value}`)}`,
        },
      })),
      {
        fullUrl: reportUrn,
        resource: report,
        request: {
          method: 'PUT' as const,
          url: `DiagnosticReport?identifier=${encodeURIComponent(`${REPORT_ID_SYSTEM}|${doc.studyInstanceUid}`)}`,
        },
      },
      { resource: provenance, request: { method: 'PUT' as const, url: `Provenance/${provenance.id}` } },
    ],
  };
  let response: Bundle;
  try {
    response = await o.client.executeBatch(bundle);
  } catch (err) {
    throw new WriteBackError(502, `the FHIR server refused the transaction: ${upstreamText(err)}`);
  }
  const locations = (response.entry ?? []).map((e) => e.response?.location ?? '');
  const refs = locations.map((l) =>
    l.replace(/^.*?([A-Z][A-Za-z]+\/[^/]+\/_history\/[^/]+|[A-Z][A-Za-z]+\/[^/]+)$/, '$1'),
  );
  const unversioned = refs.map((r) => r.replace(/\/_history\/.*$/, ''));
  const result: WriteBackResult = {
    outcome: !existedBefore
      ? 'created'
      : changed
        ? 'amended'
        : oldReport?.conclusion === report.conclusion
          ? 'unchanged'
          : 'updated',
    observations: unversioned.slice(0, observations.length),
    diagnosticReport: unversioned[observations.length]!,
    provenance: unversioned[observations.length + 1]!,
    conclusion: report.conclusion!,
  };
  return { patientId, refs, result };
}
