/**
 * Writes a findings document to the EHR's FHIR server as one transaction: conditional updates on the
 * deterministic identifiers (re-ingesting the same study updates, never duplicates; a changed read becomes
 * `amended`), a Provenance at a stable id, every resource validated against profiles/ first, and the write
 * recorded in the audit trail. A patient the server does not know is refused and nothing is written.
 */
import { type MedplumClient, OperationOutcomeError, validateResource } from '@medplum/core';
import type { Bundle, DiagnosticReport, Observation, Resource } from '@medplum/fhirtypes';
import type { AuditLog } from '../audit/auditLog.ts';
import { type ErrorKind, OsteoWatchError } from '../errors.ts';
import { loadFhirDefinitions } from '../fhir/definitions.ts';
import { findingProfile, reportProfile } from '../profiles/catalog.ts';
import type { FindingsDocument } from './findingsDocument.ts';
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
      throw new WriteBackError(
        500,
        `${r.resourceType} failed its profile: ${errors.map((e) => e.details?.text).join('; ')}`,
      );
  } catch (err) {
    if (err instanceof OperationOutcomeError)
      throw new WriteBackError(
        500,
        `${r.resourceType} failed its profile: ${err.outcome.issue.map((i) => i.details?.text).join('; ')}`,
      );
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
  const bundle = await client.search(
    type,
    { identifier: values.map((v) => `${system}|${v}`).join(','), _count: '100' },
    { cache: 'no-cache' },
  );
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
}

export function writeFindings(doc: FindingsDocument, o: WriteFindingsOptions): Promise<WriteBackResult> {
  return oneAtATime(`${o.fhirServer ?? ''}|${doc.studyInstanceUid}`, () => writeFindingsNow(doc, o));
}

async function writeFindingsNow(doc: FindingsDocument, o: WriteFindingsOptions): Promise<WriteBackResult> {
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
    const text =
      err instanceof OperationOutcomeError
        ? err.outcome.issue.map((i) => i.details?.text ?? i.code).join('; ')
        : (err as Error).message;
    throw new WriteBackError(502, `the FHIR server refused the transaction: ${text}`);
  }
  const locations = (response.entry ?? []).map((e) => e.response?.location ?? '');
  const refs = locations.map((l) =>
    l.replace(/^.*?([A-Z][A-Za-z]+\/[^/]+\/_history\/[^/]+|[A-Z][A-Za-z]+\/[^/]+)$/, '$1'),
  );
  await o.audit?.recordWriteBack({
    recordedAt: o.now.toISOString(),
    patientId,
    studyUid: doc.studyInstanceUid,
    studyDate: doc.studyDate,
    resourceRefs: refs,
    fhirServer: o.fhirServer,
    actor: o.actor,
  });
  const unversioned = refs.map((r) => r.replace(/\/_history\/.*$/, ''));
  return {
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
}
