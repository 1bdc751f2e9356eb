/**
 * Prometheus metrics at GET /metrics (README): request rate and latency per route — every CDS service
 * by id — the hook audit queue's depth, written and failed records, and the Node process defaults (CPU,
 * memory, event-loop lag, GC). Labels are route templates and service ids only: no patient, user or token.
 */
import type { NextFunction, Request, Response } from 'express';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

export interface AuditQueueStats {
  readonly size: number;
  readonly written: number;
  readonly failed: number;
}

export interface Metrics {
  readonly registry: Registry;
  /** Express middleware: times every request under a bounded route label. */
  readonly http: (req: Request, res: Response, next: NextFunction) => void;
  /** The hook audit queue to report on (set when it exists). */
  watchAuditQueue(queue: AuditQueueStats): void;
  /** Cohort surveillance: a batch evaluated, a run ended. */
  readonly surveillance: SurveillanceMetrics;
}

/** What cohort surveillance reports (counts only: no patient, no run content). */
export interface SurveillanceMetrics {
  patientsEvaluated(n: number, errors: number): void;
  runEnded(status: 'succeeded' | 'failed', seconds: number | null): void;
}

const BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

/** A route label with bounded values: the service id only when it is one of ours. */
export function routeLabel(path: string, serviceIds: ReadonlySet<string>): string {
  const cds = /^\/cds-services(?:\/([^/]+)(\/feedback)?)?\/?$/.exec(path);
  if (cds) {
    if (!cds[1]) return '/cds-services';
    const id = serviceIds.has(cds[1]) ? cds[1] : ':unknown';
    return `/cds-services/${id}${cds[2] ?? ''}`;
  }
  const top = /^\/(fhir|audit|imaging|app|surveillance|dashboard|auth)(?:\/|$)/.exec(path);
  if (top) return `/${top[1]}`;
  if (path === '/livez' || path === '/readyz' || path === '/metrics') return path;
  return 'other';
}

export function createMetrics(options: { serviceIds?: Iterable<string>; defaults?: boolean } = {}): Metrics {
  const registry = new Registry();
  if (options.defaults !== false) collectDefaultMetrics({ register: registry, prefix: 'osteowatch_' });
  const serviceIds = new Set(options.serviceIds ?? []);
  const duration = new Histogram({
    name: 'osteowatch_http_request_duration_seconds',
    help: 'HTTP requests by route, method and status: time from the request to the end of the response',
    labelNames: ['route', 'method', 'status'],
    buckets: BUCKETS,
    registers: [registry],
  });
  let queue: AuditQueueStats | undefined;
  new Gauge({
    name: 'osteowatch_audit_queue_depth',
    help: 'Hook invocation records waiting to be written to the audit trail',
    registers: [registry],
    collect() {
      this.set(queue?.size ?? 0);
    },
  });
  // Counters that mirror the queue's own running totals.
  const mirror = (name: string, help: string, read: (q: AuditQueueStats) => number) => {
    let seen = 0;
    new Counter({
      name,
      help,
      registers: [registry],
      collect() {
        const now = queue ? read(queue) : 0;
        if (now > seen) this.inc(now - seen);
        seen = now;
      },
    });
  };
  mirror(
    'osteowatch_audit_hook_records_written_total',
    'Hook invocation records committed to the audit trail',
    (q) => q.written,
  );
  mirror(
    'osteowatch_audit_hook_records_failed_total',
    'Hook invocation records that could not be stored: refused by validation, or by the store on their own',
    (q) => q.failed,
  );

  const evaluated = new Counter({
    name: 'osteowatch_surveillance_patients_evaluated_total',
    help: 'Patients evaluated by cohort surveillance runs in this instance (each once per run)',
    registers: [registry],
  });
  const patientErrors = new Counter({
    name: 'osteowatch_surveillance_patient_errors_total',
    help: 'Patients whose records could not be read or assessed in a surveillance run (this instance)',
    registers: [registry],
  });
  const runs = new Counter({
    name: 'osteowatch_surveillance_runs_total',
    help: 'Surveillance runs finished by this instance, by status',
    labelNames: ['status'],
    registers: [registry],
  });
  const runSeconds = new Histogram({
    name: 'osteowatch_surveillance_run_duration_seconds',
    help: 'Duration of the surveillance runs this instance finished, from start to end',
    buckets: [1, 5, 15, 60, 300, 900, 3600, 14_400],
    registers: [registry],
  });

  return {
    registry,
    surveillance: {
      patientsEvaluated(n, errors) {
        evaluated.inc(n);
        if (errors) patientErrors.inc(errors);
      },
      runEnded(status, seconds) {
        runs.inc({ status });
        if (seconds !== null) runSeconds.observe(seconds);
      },
    },
    http: (req, res, next) => {
      const started = process.hrtime.bigint();
      const route = routeLabel(req.path, serviceIds);
      res.on('finish', () => {
        const seconds = Number(process.hrtime.bigint() - started) / 1e9;
        duration.observe({ route, method: req.method, status: String(res.statusCode) }, seconds);
      });
      next();
    },
    watchAuditQueue(q) {
      queue = q;
    },
  };
}
