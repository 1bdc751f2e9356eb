/**
 * A FHIR Bulk Data client for group-level export (Bulk Data Access IG v2.0.0,
 * https://hl7.org/fhir/uv/bulkdata/STU2/export.html): kick off `Group/[id]/$export`, poll the status URL as the
 * server asks (Retry-After, also on 429 and 503, capped by us), read the manifest, stream each NDJSON file line by
 * line, and delete the job. Pure adapter over global fetch: no scheduling, no storage, no re-filtering (the
 * server's _typeFilter may be approximate; the caller filters what it reads).
 *
 * A bearer token goes only to the FHIR server's origin: a status URL or file URL elsewhere is refused when it
 * would need the token (the same rule as for search `next` links, patientRecords.ts).
 */
import { isRefusal, OsteoWatchError, RefusedError } from '../errors.ts';
import { authorizedFetch as call, type FhirAuth } from './fhirAuth.ts';
import { ExportGoneError, NDJSON, type NdjsonOptions, ndjsonEntries } from './ndjson.ts';
import { issueText, outcomeText } from './outcome.ts';
import { FhirFetchError, FhirTimeoutError, sameOrigin } from './patientRecords.ts';

export {
  ExportGoneError,
  lineParser,
  NDJSON,
  type NdjsonEntry,
  type NdjsonLine,
  type NdjsonOptions,
  ndjsonEntries,
  ndjsonLineBatches,
  ndjsonResources,
} from './ndjson.ts';

export interface ManifestFile {
  type: string;
  url: string;
  count?: number;
}

/** The complete-status body (export.html#response---complete-status). */
export interface ExportManifest {
  transactionTime: string;
  request: string;
  requiresAccessToken: boolean;
  output: ManifestFile[];
  error: ManifestFile[];
  deleted?: ManifestFile[];
}

/** The server says the export job failed (an error status that is not transient): polling it again cannot help. */
export class ExportFailedError extends OsteoWatchError {
  constructor(message: string) {
    super('upstream', message);
  }
}

/**
 * The IssueType codes that say "try again later": `transient` and its children
 * (https://hl7.org/fhir/R4/codesystem-issue-type.html), which the IG asks a server to use for a status error
 * that is not the job's failure (export.html#response---error-status-1).
 */
const TRANSIENT = new Set(['transient', 'lock-error', 'no-store', 'exception', 'timeout', 'incomplete', 'throttled']);

/**
 * The status and OperationOutcome text of an error answer, and whether an issue is `transient`: the IG's sign of
 * a polling failure that is not the job's, to be retried later (export.html#response---error-status-1).
 */
async function readOutcome(res: Response): Promise<{ text: string; transient: boolean; outcome: boolean }> {
  const body = (await res.json().catch(() => undefined)) as
    | { resourceType?: string; issue?: Array<{ diagnostics?: string; details?: { text?: string }; code?: string }> }
    | undefined;
  const issues = Array.isArray(body?.issue) ? body.issue : [];
  const text = outcomeText(body);
  return {
    text: `HTTP ${res.status}${text ? `: ${text.slice(0, 300)}` : ''}`,
    transient: issues.some((i) => TRANSIENT.has(String(i?.code))),
    outcome: body?.resourceType === 'OperationOutcome' && issues.length > 0,
  };
}
const answerText = async (res: Response): Promise<string> => (await readOutcome(res)).text;

export interface KickOffOptions {
  fhirBaseUrl: string;
  groupId: string;
  /** _type: the resource types wanted. */
  types: readonly string[];
  /** _typeFilter: FHIR search queries, `MedicationRequest?status=active`. */
  typeFilter?: readonly string[];
  /** _since: an instant; only resources changed after it. */
  since?: string;
  auth: FhirAuth;
  timeoutMs?: number;
}

/** GET [base]/Group/[id]/$export (export.html#bulk-data-kick-off-request); returns the absolute status URL. */
export async function kickOff(o: KickOffOptions): Promise<string> {
  const base = o.fhirBaseUrl.replace(/\/+$/, '');
  const params = new URLSearchParams({ _outputFormat: NDJSON });
  if (o.types.length) params.set('_type', o.types.join(','));
  // Each query is one comma-separated item; commas inside a query are percent-encoded by URLSearchParams.
  if (o.typeFilter?.length)
    params.set(
      '_typeFilter',
      o.typeFilter
        .map((f) => {
          const q = f.indexOf('?');
          return q < 0 ? f : `${f.slice(0, q)}?${new URLSearchParams(f.slice(q + 1)).toString()}`;
        })
        .join(','),
    );
  if (o.since) params.set('_since', o.since);
  const url = `${base}/Group/${encodeURIComponent(o.groupId)}/$export?${params}`;
  const what = `Bulk Data kick-off for Group/${o.groupId}`;
  const res = await call(
    'GET',
    url,
    {
      ...o,
      // Prefer: respond-async is required; no-cache so that a server does not answer with an earlier job.
      headers: { accept: 'application/fhir+json', prefer: 'respond-async', 'cache-control': 'no-cache' },
    },
    what,
  );
  if (res.status !== 202) {
    if (res.status === 429 || res.status === 503)
      throw new OsteoWatchError('unavailable', `${what}: the server is busy (${await answerText(res)})`);
    // 401, 403, 404 (no such Group): the same kick-off again gets the same answer.
    if (isRefusal(res.status)) throw new RefusedError(`${what} refused: ${await answerText(res)}`);
    throw new FhirFetchError(`${what} refused: ${await answerText(res)}`);
  }
  await res.body?.cancel();
  const location = res.headers.get('content-location');
  if (!location) throw new FhirFetchError(`${what}: 202 without a Content-Location`);
  const statusUrl = new URL(location, url).toString();
  if (!sameOrigin(statusUrl, base))
    throw new FhirFetchError(`${what}: the status URL leads off the FHIR server (${new URL(statusUrl).origin})`);
  return statusUrl;
}

/** Retry-After as seconds: delay-seconds or an HTTP-date (RFC 9110 §10.2.3); undefined when absent or bad. */
export function parseRetryAfter(value: string | null | undefined, nowMs: number): number | undefined {
  if (!value) return undefined;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v);
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, (at - nowMs) / 1000);
}

export interface ExportProgress {
  /** 202 in progress; 429 or 503 asked to slow down; a 5xx whose OperationOutcome says `transient`. */
  status: number;
  /** X-Progress, as the server wrote it. */
  progress?: string;
  /** What Retry-After asked for, seconds. */
  retryAfterSeconds?: number;
  /** How long we wait before the next poll, seconds (Retry-After capped, or our backoff). */
  waitSeconds: number;
}

export interface WaitOptions {
  auth: FhirAuth;
  /** Give up after this long overall (FhirTimeoutError); the job is left for the caller to delete or resume. */
  maxWaitSeconds: number;
  /** The longest we wait between polls, whatever Retry-After says. */
  retryAfterCapSeconds: number;
  signal?: AbortSignal;
  onProgress?: (p: ExportProgress) => void;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  timeoutMs?: number;
  now?: () => number;
}

const defaultSleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((resolve, reject) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(t);
      reject(signal.reason);
    });
  });

function manifestOf(body: unknown, statusUrl: string): ExportManifest {
  const m = body as Partial<ExportManifest> | undefined;
  const files = (list: unknown, name: string): ManifestFile[] => {
    if (list === undefined) return [];
    if (!Array.isArray(list)) throw new FhirFetchError(`the export manifest's ${name} is not an array`);
    return list.map((f: Partial<ManifestFile>) => {
      if (typeof f?.type !== 'string' || typeof f.url !== 'string')
        throw new FhirFetchError(`an export manifest ${name} entry has no type or url`);
      return { type: f.type, url: new URL(f.url, statusUrl).toString(), count: f.count };
    });
  };
  if (typeof m?.transactionTime !== 'string' || typeof m.requiresAccessToken !== 'boolean')
    throw new FhirFetchError('the export manifest has no transactionTime or requiresAccessToken');
  return {
    transactionTime: m.transactionTime,
    request: String(m.request ?? ''),
    requiresAccessToken: m.requiresAccessToken,
    output: files(m.output, 'output'),
    error: files(m.error, 'error'),
    ...(m.deleted === undefined ? {} : { deleted: files(m.deleted, 'deleted') }),
  };
}

/**
 * Polls the status URL until the manifest (export.html#bulk-data-status-request). Waits what Retry-After says, at
 * most retryAfterCapSeconds; without one, backs off 1, 2, 4 … seconds up to the cap. A status URL may be polled
 * again after a restart: nothing but the URL is needed.
 */
export async function waitForManifest(statusUrl: string, o: WaitOptions): Promise<ExportManifest> {
  const now = o.now ?? Date.now;
  const sleep = o.sleep ?? defaultSleep;
  const started = now();
  let backoff = 1;
  const what = 'Bulk Data status';
  for (;;) {
    const res = await call('GET', statusUrl, { ...o, headers: { accept: 'application/json' } }, what);
    if (res.status === 200) return manifestOf(await res.json().catch(() => undefined), statusUrl);
    if (res.status === 404 || res.status === 410)
      throw new ExportGoneError(`the export job is gone (deleted or expired): ${await answerText(res)}`);
    if (res.status !== 202 && res.status !== 429 && res.status !== 503) {
      const outcome = await readOutcome(res);
      // The job's failure only when the server says so (an OperationOutcome, not transient); a gateway's 502/504
      // or a bare 5xx is the way to the server failing, not the job: the attempt fails, the job is kept.
      const gateway = res.status === 502 || res.status === 504 || (res.status >= 500 && !outcome.outcome);
      if (gateway) throw new OsteoWatchError('unavailable', `the export's status could not be read: ${outcome.text}`);
      if (!outcome.transient || res.status < 500) throw new ExportFailedError(`the export failed: ${outcome.text}`);
    } else await res.body?.cancel();
    const retryAfterSeconds = parseRetryAfter(res.headers.get('retry-after'), now());
    // Retry-After under a second, or a date already past (clocks differ): our backoff, never a poll loop.
    const asked = retryAfterSeconds !== undefined && retryAfterSeconds >= 1 ? retryAfterSeconds : undefined;
    const waitSeconds = Math.min(asked ?? backoff, o.retryAfterCapSeconds);
    if (asked === undefined) backoff = Math.min(backoff * 2, o.retryAfterCapSeconds);
    o.onProgress?.({
      status: res.status,
      progress: res.headers.get('x-progress') ?? undefined,
      retryAfterSeconds,
      waitSeconds,
    });
    if (now() - started + waitSeconds * 1000 > o.maxWaitSeconds * 1000)
      throw new FhirTimeoutError(`the export did not complete within ${o.maxWaitSeconds} s`);
    try {
      await sleep(waitSeconds * 1000, o.signal);
    } catch {
      throw new OsteoWatchError('unavailable', 'waiting for the export was cancelled');
    }
  }
}

/** One issue of the export's error files, as the server wrote it. */
export interface ExportIssue {
  severity: 'fatal' | 'error' | 'warning' | 'information';
  code?: string;
  /** details.text, else diagnostics, else the code; with the issue's expression when it names one. */
  message: string;
}

const SEVERITIES = new Set(['fatal', 'error', 'warning', 'information']);

/**
 * The issues of the manifest's `error` files (export.html#response---complete-status): NDJSON OperationOutcomes,
 * where a server says what it could not export (a Group member it could not find, a resource it could not
 * serialise) or, under lenient handling, which request parameters it ignored. Streamed like the output files.
 */
export async function* exportIssues(
  manifest: ExportManifest,
  o: Omit<NdjsonOptions, 'requiresAccessToken'>,
): AsyncGenerator<ExportIssue> {
  for (const file of manifest.error) {
    const entries = ndjsonEntries(file.url, { ...o, requiresAccessToken: manifest.requiresAccessToken });
    for await (const { resource } of entries) {
      const issues = (resource as { issue?: unknown }).issue;
      if (resource.resourceType !== 'OperationOutcome' || !Array.isArray(issues)) {
        yield { severity: 'error', message: `the export's error file holds a ${String(resource.resourceType)}` };
        continue;
      }
      for (const i of issues as Array<Record<string, unknown> | null>) {
        const severity = String(i?.severity);
        const code = typeof i?.code === 'string' ? i.code : undefined;
        const text = issueText(i);
        const where = Array.isArray(i?.expression) ? ` (${i.expression.join(', ')})` : '';
        yield {
          severity: SEVERITIES.has(severity) ? (severity as ExportIssue['severity']) : 'error',
          ...(code ? { code } : {}),
          message: `${text ?? 'an issue without text'}${where}`.slice(0, 500),
        };
      }
    }
  }
}

/** DELETE on the status URL (export.html#bulk-data-delete-request): the server may drop the job and its files. */
export async function deleteExport(statusUrl: string, auth: FhirAuth, timeoutMs?: number): Promise<void> {
  const res = await call('DELETE', statusUrl, { auth, timeoutMs }, 'Bulk Data delete');
  // 404: already gone, which is what was asked.
  if (res.ok || res.status === 404) {
    await res.body?.cancel();
    return;
  }
  throw new FhirFetchError(`the export job could not be deleted: ${await answerText(res)}`);
}
