/**
 * The HTTP application, everything on one port: the demo FHIR server (/fhir), CDS Hooks (/cds-services), the
 * audit API (/audit), imaging findings (/imaging), health (/livez, /readyz) and metrics (/metrics). Each mount
 * is an adapter over the domain; this file only composes them and maps what escapes them to an
 * OperationOutcome.
 */
import type { FhirRepository } from '@medplum/fhir-router';
import express from 'express';
import type { AuditService } from '../audit/service.ts';
import { type BearerOptions, hasStaticToken, isDirectLoopback } from '../auth/bearer.ts';
import { OsteoWatchError } from '../errors.ts';
import type { Logger } from '../log/logger.ts';
import type { Metrics } from '../metrics/metrics.ts';
import { auditRoutes } from './auditRoutes.ts';
import type { BulkExportOptions } from './bulkExportRoutes.ts';
import { type CdsRouteOptions, cdsRoutes } from './cdsRoutes.ts';
import { fhirCors } from './cors.ts';
import { fhirRoutes, type SmartFhirOptions } from './fhirRoutes.ts';
import { type ImagingRouteOptions, imagingRoutes } from './imagingRoutes.ts';
import { type OAuthRouteOptions, oauthRoutes } from './oauthRoutes.ts';
import { outcomeErrors } from './outcome.ts';
import { type PageRouteOptions, pageRoutes } from './pageRoutes.ts';
import { requestLog } from './requestLog.ts';
import { type SurveillanceRouteOptions, surveillanceRoutes } from './surveillanceRoutes.ts';

export interface AppOptions {
  repo: FhirRepository;
  maxPageSize?: number;
  /** Readiness: false while the demo cohort is still loading. */
  isReady?: () => boolean;
  /** Readiness: whether the audit store can be reached now (see Db.reachable). */
  storeReachable?: () => Promise<boolean>;
  logger?: Logger;
  audit?: { service: AuditService; auth: BearerOptions; now?: () => Date };
  cds?: CdsRouteOptions;
  imaging?: ImagingRouteOptions;
  /** The demo FHIR server's Bulk Data export (SMART Backend Services tokens from `oauth`). */
  bulk?: Omit<BulkExportOptions, 'repo'>;
  /** SMART App Launch on /fhir: discovery with the authorization endpoint, the Sandbox's launch endpoint. */
  smart?: SmartFhirOptions;
  /** The demo's OAuth 2.0 endpoints (authorization code with PKCE, SMART Backend Services), at /auth. */
  oauth?: OAuthRouteOptions;
  /** The clinician pages (dist/pages/: /app/, /dashboard/) and the timeline's API, POST /app/api/assess. */
  pages?: PageRouteOptions;
  /** Cohort surveillance: runs and the worklist, at /surveillance. */
  surveillance?: SurveillanceRouteOptions;
  /** Prometheus metrics, served at GET /metrics. */
  metrics?: Metrics;
  /**
   * Bearer token /metrics requires (OSTEOWATCH_METRICS_TOKEN). Without it /metrics answers only requests made
   * directly on loopback (not forwarded by a proxy): 403 to anyone else.
   */
  metricsToken?: string;
}

export function createApp(options: AppOptions): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', 'loopback');
  if (options.metrics) app.use(options.metrics.http);
  if (options.logger) app.use(requestLog(options.logger));
  app.get('/livez', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', async (_req, res) => {
    const ready = options.isReady?.() ?? true;
    // Ready also means the audit store answers: while it is unreachable, calls could not be recorded for long.
    const storeUp = !ready || !options.storeReachable || (await options.storeReachable());
    res
      .status(ready && storeUp ? 200 : 503)
      .json({ status: !ready ? 'starting' : storeUp ? 'ready' : 'store-unreachable' });
  });
  const metrics = options.metrics;
  if (metrics)
    app.get('/metrics', async (req, res) => {
      const token = options.metricsToken;
      if (token && !hasStaticToken(req.headers.authorization, token)) {
        res.set('WWW-Authenticate', 'Bearer realm="osteowatch-metrics"');
        throw new OsteoWatchError('unauthorized', 'Authentication required');
      }
      if (!token && !isDirectLoopback(req.socket.remoteAddress, req.headers))
        throw new OsteoWatchError(
          'forbidden',
          'Metrics are served on loopback only unless a metrics token is configured',
        );
      res.type(metrics.registry.contentType).send(await metrics.registry.metrics());
    });
  // CORS first on /fhir: a browser's preflight is answered before any parsing or routing, and every answer,
  // errors included, carries Access-Control-Allow-Origin.
  app.use(
    '/fhir',
    fhirCors,
    fhirRoutes({ repo: options.repo, maxPageSize: options.maxPageSize, bulk: options.bulk, smart: options.smart }),
  );
  if (options.oauth) app.use('/auth', oauthRoutes(options.oauth));
  if (options.audit) app.use('/audit', auditRoutes(options.audit));
  if (options.cds) app.use('/cds-services', cdsRoutes(options.cds));
  if (options.imaging) app.use('/imaging', imagingRoutes(options.imaging));
  if (options.surveillance) app.use('/surveillance', surveillanceRoutes(options.surveillance));
  if (options.pages) app.use(pageRoutes(options.pages));
  app.use(() => {
    throw new OsteoWatchError('not-found', 'No such endpoint');
  });
  // Whatever a route throws, and body-parser's refusals: a 4xx/5xx OperationOutcome, never a stack trace, never
  // a crash.
  app.use(outcomeErrors({ logger: options.logger }));
  return app;
}
