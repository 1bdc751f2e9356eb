/**
 * The audit queries as one service used by the REST API and the CLI. Each query is itself recorded in the
 * audit trail (who asked what), as hospital audit rules require.
 */
import { dayIn } from '../exposure/dates.ts';
import type { ExposureSummary } from '../exposure/index.ts';
import type { VerifyResult } from './auditLog.ts';
import { auditBundle } from './fhirExport.ts';
import {
  auditRows,
  type CardReport,
  type CrossingReport,
  cardResponses,
  type PageRequest,
  type PatientHistory,
  patientHistory,
  thresholdCrossings,
} from './queries.ts';
import type { AuditStore } from './store.ts';

export interface AuditContext {
  actor: string;
  now: Date;
}

export type LiveExposure = (patientId: string, asOf: string) => Promise<ExposureSummary>;

export class AuditService {
  readonly store: AuditStore;
  readonly thresholdMg: number;
  readonly live?: LiveExposure;
  /** The clinic's IANA time zone (OSTEOWATCH_TZ): the default as-of day of a live computation. */
  readonly timeZone?: string;
  constructor(store: AuditStore, thresholdMg: number, live?: LiveExposure, timeZone?: string) {
    this.store = store;
    this.thresholdMg = thresholdMg;
    this.live = live;
    this.timeZone = timeZone;
  }

  private record(ctx: AuditContext, query: string, patientId?: string) {
    return this.store.audit.recordAuditQuery({ recordedAt: ctx.now.toISOString(), actor: ctx.actor, query, patientId });
  }

  async patient(
    ctx: AuditContext,
    id: string,
    page: PageRequest & { live?: boolean; asOf?: string },
  ): Promise<PatientHistory & { live?: ExposureSummary | { error: string } }> {
    await this.record(ctx, `patient history${page.live ? ' (with live exposure)' : ''}`, id);
    const history = await patientHistory(this.store.db, id, page);
    if (!page.live) return history;
    if (!this.live) return { ...history, live: { error: 'no FHIR server is configured for live computation' } };
    try {
      return { ...history, live: await this.live(id, page.asOf ?? dayIn(ctx.now, this.timeZone)) };
    } catch (err) {
      return { ...history, live: { error: err instanceof Error ? err.message : String(err) } };
    }
  }

  async crossings(
    ctx: AuditContext,
    q: { from: string; to: string; thresholdMg?: number } & PageRequest,
  ): Promise<CrossingReport> {
    const thresholdMg = q.thresholdMg ?? this.thresholdMg;
    await this.record(ctx, `threshold crossings ≥ ${thresholdMg} mg in [${q.from}, ${q.to})`);
    return thresholdCrossings(this.store.db, { ...q, thresholdMg });
  }

  async cards(ctx: AuditContext, q: { from: string; to: string; service?: string } & PageRequest): Promise<CardReport> {
    await this.record(ctx, `cards and responses in [${q.from}, ${q.to})${q.service ? ` for ${q.service}` : ''}`);
    return cardResponses(this.store.db, q);
  }

  async verify(ctx: AuditContext): Promise<VerifyResult> {
    const result = await this.store.audit.verify();
    await this.record(ctx, 'verify hash chain');
    return result;
  }

  async export(ctx: AuditContext, q: { from: string; to: string } & PageRequest, nextUrl: (cursor: string) => string) {
    await this.record(ctx, `export AuditEvents in [${q.from}, ${q.to})`);
    const page = await auditRows(this.store.db, q);
    return auditBundle(page.items, page.nextCursor ? nextUrl(page.nextCursor) : undefined);
  }
}
