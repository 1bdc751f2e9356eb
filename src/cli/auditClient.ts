/**
 * Where `osteowatch audit` gets its answers: the store itself (DATABASE_URL, or the embedded data directory
 * when no service holds it), or a running service's /audit API (--url with a token).
 */
import { userInfo } from 'node:os';
import type { Bundle } from '@medplum/fhirtypes';
import type { VerifyResult } from '../audit/auditLog.ts';
import type { CardReport, CrossingReport, PatientHistory } from '../audit/queries.ts';
import { AuditService, type LiveExposure } from '../audit/service.ts';
import { type AuditStore, openAuditStore } from '../audit/store.ts';
import { OsteoWatchError } from '../errors.ts';
import { computeExposure, type ExposureSummary } from '../exposure/index.ts';
import { outcomeText } from '../fhir/outcome.ts';
import { fetchPatientRecords, fhirClient } from '../fhir/patientRecords.ts';
import { serviceBase, unreachable } from './serviceUrl.ts';

export interface PatientQuery {
  limit?: number;
  cursor?: string;
  live?: boolean;
  asOf?: string;
}
export interface WindowQuery {
  from: string;
  to: string;
  limit?: number;
  cursor?: string;
}

export interface AuditClient {
  patient(id: string, q: PatientQuery): Promise<PatientHistory & { live?: ExposureSummary | { error: string } }>;
  crossings(q: WindowQuery & { threshold?: number }): Promise<CrossingReport>;
  cards(q: WindowQuery & { service?: string }): Promise<CardReport>;
  verify(): Promise<VerifyResult>;
  /** All pages of the export in one Bundle. */
  export(q: WindowQuery): Promise<Bundle>;
  close(): Promise<void>;
}

/** The running service could not be reached, or refused or failed the query. */
export class AuditClientError extends OsteoWatchError {
  constructor(message: string) {
    super('upstream', message);
  }
}

/** Follows an export's pages and gathers their entries into one Bundle. */
async function allPages(
  fetchPage: (cursor: string | undefined) => Promise<{ page: Bundle; next: string | undefined }>,
): Promise<Bundle> {
  const all: Bundle = { resourceType: 'Bundle', type: 'collection', timestamp: new Date().toISOString(), entry: [] };
  let cursor: string | undefined;
  do {
    const { page, next } = await fetchPage(cursor);
    all.entry!.push(...(page.entry ?? []));
    cursor = next;
  } while (cursor);
  return all;
}

export async function localAuditClient(o: {
  databaseUrl?: string;
  dataDir: string;
  thresholdMg: number;
  fhir?: string;
}): Promise<AuditClient> {
  const store: AuditStore = await openAuditStore(
    o.databaseUrl ? { databaseUrl: o.databaseUrl } : { dataDir: o.dataDir },
  );
  const live: LiveExposure | undefined = o.fhir
    ? async (id, asOf) =>
        computeExposure({ resources: await fetchPatientRecords(fhirClient(o.fhir!), id), patient: id, asOf })
    : undefined;
  const service = new AuditService(store, o.thresholdMg, live, process.env.OSTEOWATCH_TZ || undefined);
  const ctx = () => ({ actor: `cli:${userInfo().username}`, now: new Date() });
  return {
    patient: (id, q) => service.patient(ctx(), id, q),
    crossings: (q) => service.crossings(ctx(), { ...q, thresholdMg: q.threshold }),
    cards: (q) => service.cards(ctx(), q),
    verify: () => service.verify(ctx()),
    export: (q) =>
      allPages(async (cursor) => {
        let next: string | undefined;
        const page = await service.export(ctx(), { ...q, cursor, limit: 1000 }, (c) => {
          next = c;
          return c;
        });
        return { page, next };
      }),
    close: () => store.close(),
  };
}

export function remoteAuditClient(o: { url: string; token: string }): AuditClient {
  const base = serviceBase(o.url);
  const call = async <T>(path: string, params: Record<string, string | number | boolean | undefined>): Promise<T> => {
    const qs = new URLSearchParams(
      Object.entries(params)
        .filter(([, v]) => v !== undefined)
        .map(([k, v]): [string, string] => [k, String(v)]),
    );
    let res: Response;
    try {
      res = await fetch(`${base}/audit${path}${qs.size ? `?${qs}` : ''}`, {
        headers: { authorization: `Bearer ${o.token}`, accept: 'application/json' },
      });
    } catch (err) {
      throw new AuditClientError(unreachable(base, err));
    }
    if (res.status === 401) throw new AuditClientError(`${base} refused the token (401)`);
    const body = await res.json().catch(() => undefined);
    if (!res.ok) throw new AuditClientError(`${base} answered ${res.status}: ${outcomeText(body) ?? res.statusText}`);
    return body as T;
  };
  return {
    patient: (id, q) =>
      call(`/patients/${encodeURIComponent(id)}`, {
        limit: q.limit,
        cursor: q.cursor,
        live: q.live ? 'true' : undefined,
        asOf: q.asOf,
      }),
    crossings: (q) => call('/crossings', { ...q }),
    cards: (q) => call('/cards', { ...q }),
    verify: () => call('/verify', {}),
    export: (q) =>
      allPages(async (cursor) => {
        const page = await call<Bundle>('/export', { ...q, cursor, limit: 1000 });
        const next = page.link?.find((l) => l.relation === 'next')?.url;
        return { page, next: next ? (new URL(next).searchParams.get('cursor') ?? undefined) : undefined };
      }),
    close: async () => undefined,
  };
}
