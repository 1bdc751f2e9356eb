/**
 * FHIR Bulk Data group-level export on the demo server (Bulk Data Access IG v2.0.0,
 * https://hl7.org/fhir/uv/bulkdata/STU2/export.html), plus the SMART discovery document. Mounted by fhirRoutes.ts
 * before its generic routes; what an export contains is bulkExportJob.ts.
 *
 * - Kick-off `GET [base]/Group/[id]/$export` needs a bearer token from the demo token endpoint (oauthRoutes.ts)
 *   whose scopes allow reading every exported type; the other demo reads stay open. 202 + Content-Location.
 * - The job runs in the background, takes at least `minJobMs` (so that a client polls at least once and meets
 *   Retry-After), and keeps its NDJSON files in memory until it expires (`jobTtlMs`) or is deleted.
 * - Status, file and DELETE requests need a token of the client that kicked the job off; anyone else gets 404.
 */
import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { FhirRepository } from '@medplum/fhir-router';
import type { Group } from '@medplum/fhirtypes';
import express, { type Request, type Response, type Router } from 'express';
import { type ExportFile, type Job, NDJSON, parseKickOff, runJob } from './bulkExportJob.ts';
import { type AccessGrant, smartConfiguration, type TokenVerifier } from './oauthRoutes.ts';
import { sendOutcome, sendResource } from './outcome.ts';

export { EXPORT_TYPES } from './bulkExportJob.ts';

export interface BulkExportOptions {
  repo: FhirRepository;
  tokens: TokenVerifier;
  /** The token endpoint's URL, for the smart-configuration. */
  tokenUrl: () => string;
  /** The shortest a job takes, ms (default 1000). */
  minJobMs?: number;
  /** Retry-After on an in-progress status, seconds (default 1). */
  retryAfterSeconds?: number;
  /** Polls of one job closer together than this are answered 429 (default 0: never). */
  minPollIntervalMs?: number;
  /** How long a job and its files are kept, ms (default 1 hour). */
  jobTtlMs?: number;
  /** Jobs kept at once; beyond, a kick-off is answered 429 (default 20). */
  maxJobs?: number;
  /** Resources per NDJSON file (default 10 000). */
  resourcesPerFile?: number;
  now?: () => number;
}

type Settings = Required<BulkExportOptions>;

const baseUrl = (req: Request): string => `${req.protocol}://${req.get('host')}${req.baseUrl}`;

export function bulkExportRoutes(options: BulkExportOptions): Router {
  const o: Settings = {
    ...options,
    minJobMs: options.minJobMs ?? 1000,
    retryAfterSeconds: options.retryAfterSeconds ?? 1,
    minPollIntervalMs: options.minPollIntervalMs ?? 0,
    jobTtlMs: options.jobTtlMs ?? 3_600_000,
    maxJobs: options.maxJobs ?? 20,
    resourcesPerFile: options.resourcesPerFile ?? 10_000,
    now: options.now ?? Date.now,
  };
  const jobs = new Map<string, Job>();
  const router = express.Router();

  const sweep = () => {
    for (const [id, job] of jobs)
      if (job.expiresAt <= o.now()) {
        job.abort.abort();
        jobs.delete(id);
      }
  };
  /** The caller's grant, or a 401 answered (RFC 6750 §3, https://www.rfc-editor.org/rfc/rfc6750#section-3). */
  const grantOf = (req: Request, res: Response): AccessGrant | undefined => {
    const grant = o.tokens.verify(req.get('authorization'));
    if (grant) return grant;
    res.set('WWW-Authenticate', `Bearer realm="osteowatch-fhir", error="invalid_token"`);
    sendOutcome(res, 401, 'login', `Bulk Data export needs a bearer token from ${o.tokenUrl()}`);
    return undefined;
  };
  /** The caller's job; another client's job is as good as absent. */
  const jobOf = (req: Request, res: Response): Job | undefined => {
    sweep();
    const grant = grantOf(req, res);
    if (!grant) return undefined;
    const job = jobs.get(String(req.params.job));
    if (job && job.clientId === grant.clientId) return job;
    sendOutcome(res, 404, 'not-found', 'No such export job (deleted, expired or never started)');
    return undefined;
  };

  router.get('/.well-known/smart-configuration', (_req, res) => {
    res.type('application/json').send(JSON.stringify(smartConfiguration(o.tokenUrl())));
  });

  router.get(['/Group/:id/\\$export', '/Group/:id/%24export'], async (req: Request, res: Response) => {
    sweep();
    const grant = grantOf(req, res);
    if (!grant) return;
    const parsed = parseKickOff(req, grant);
    if (Array.isArray(parsed)) return sendResource(res, parsed[0], parsed[1]);
    const group = (await o.repo.readResource('Group', String(req.params.id)).catch(() => undefined)) as
      | Group
      | undefined;
    if (!group) return sendOutcome(res, 404, 'not-found', `Group/${req.params.id} was not found`);
    if (jobs.size >= o.maxJobs) {
      res.set('Retry-After', '60');
      return sendOutcome(res, 429, 'transient', 'Too many export jobs; try again later');
    }
    const base = baseUrl(req);
    const job: Job = {
      id: randomUUID(),
      clientId: grant.clientId,
      request: `${base}${req.url}`,
      state: 'running',
      progress: 'starting',
      expiresAt: o.now() + o.jobTtlMs,
      transactionTime: new Date(o.now()).toISOString(),
      output: [],
      errors: [],
      abort: new AbortController(),
    };
    jobs.set(job.id, job);
    runJob(job, { ...parsed, group }, o).catch(() => {
      if (job.abort.signal.aborted) return;
      job.state = 'failed';
    });
    res.status(202).set('Content-Location', `${base}/$export-status/${job.id}`).end();
  });

  const statusPaths = ['/\\$export-status/:job', '/%24export-status/:job'];
  router.get(statusPaths, (req: Request, res: Response) => {
    const job = jobOf(req, res);
    if (!job) return;
    const now = o.now();
    // export.html#bulk-data-status-request: a client polling too often MAY be answered 429 with Retry-After.
    if (job.lastPollAt !== undefined && now - job.lastPollAt < o.minPollIntervalMs) {
      res.set('Retry-After', String(o.retryAfterSeconds));
      return sendOutcome(res, 429, 'transient', 'Polled too often; wait as Retry-After says');
    }
    job.lastPollAt = now;
    if (job.state === 'failed') return sendOutcome(res, 500, 'processing', 'The export failed');
    if (job.state === 'running') {
      res
        .status(202)
        .set({ 'X-Progress': job.progress, 'Retry-After': String(o.retryAfterSeconds) })
        .end();
      return;
    }
    const base = baseUrl(req);
    const entry = (f: ExportFile) => ({
      type: f.type,
      url: `${base}/$export-file/${job.id}/${f.name}`,
      count: f.lines.length,
    });
    res
      .status(200)
      .set('Expires', new Date(job.expiresAt).toUTCString())
      .type('application/json')
      .send(
        JSON.stringify({
          transactionTime: job.transactionTime,
          request: job.request,
          requiresAccessToken: true,
          output: job.output.map(entry),
          error: job.errors.map(entry),
        }),
      );
  });

  // export.html#bulk-data-delete-request: 202, and the status URL answers 404 from then on.
  router.delete(statusPaths, (req: Request, res: Response) => {
    const job = jobOf(req, res);
    if (!job) return;
    job.abort.abort();
    jobs.delete(job.id);
    res.status(202).end();
  });

  router.get(['/\\$export-file/:job/:file', '/%24export-file/:job/:file'], async (req: Request, res: Response) => {
    const job = jobOf(req, res);
    if (!job) return;
    const file = [...job.output, ...job.errors].find((f) => f.name === req.params.file);
    if (job.state !== 'done' || !file) return sendOutcome(res, 404, 'not-found', 'No such export file');
    res.status(200).type(NDJSON);
    // Streamed line by line with back-pressure, never one string of the whole file.
    const lines = function* () {
      for (const line of file.lines) yield `${line}\n`;
    };
    await pipeline(Readable.from(lines()), res).catch(() => undefined);
  });
  return router;
}
