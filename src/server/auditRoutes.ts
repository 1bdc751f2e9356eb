/**
 * REST under /audit. Every route needs a bearer token (static or a trusted JWT with the audit scope);
 * without one the answer is 401 and nothing else.
 */
import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import { z } from 'zod';
import { toCsv } from '../audit/csv.ts';
import type { AuditService } from '../audit/service.ts';
import { authorise, type BearerOptions, type Principal } from '../auth/bearer.ts';
import { OsteoWatchError, parseInput } from '../errors.ts';
import { sendResource } from './outcome.ts';

const date = z.iso.date({ error: 'must be a date YYYY-MM-DD' });
const page = {
  limit: z.coerce.number().int().min(1).max(1000).optional(),
  cursor: z.string().max(200).optional(),
  format: z.enum(['json', 'csv']).optional(),
};
const windowed = z.object({ from: date, to: date, ...page });
// Built once: zod schemas are not free to construct, and these run on every audit request.
const patientQuery = z.object({ ...page, live: z.enum(['true', 'false']).optional(), asOf: date.optional() });
const crossingsQuery = windowed.extend({ threshold: z.coerce.number().positive().optional() });
const cardsQuery = windowed.extend({ service: z.string().max(100).optional() });

type Authed = Request & { principal?: Principal };

export interface AuditRouteOptions {
  service: AuditService;
  auth: BearerOptions;
  now?: () => Date;
}

function send(req: Request, res: Response, body: unknown, csv?: () => string): void {
  const wantsCsv =
    req.query.format === 'csv' || (!req.query.format && req.accepts(['application/json', 'text/csv']) === 'text/csv');
  if (csv && wantsCsv) {
    res.type('text/csv').send(csv());
    return;
  }
  res.json(body);
}

export function auditRoutes(o: AuditRouteOptions): Router {
  const router = express.Router();
  const now = o.now ?? (() => new Date());
  router.use(async (req: Authed, res: Response, next: NextFunction) => {
    const principal = await authorise(req.headers.authorization, o.auth).catch(() => undefined);
    if (!principal) {
      // RFC 6750 §3: a 401 names the scheme the client must use (https://www.rfc-editor.org/rfc/rfc6750#section-3).
      res.set('WWW-Authenticate', 'Bearer realm="osteowatch-audit"');
      throw new OsteoWatchError('unauthorized', 'Authentication required');
    }
    req.principal = principal;
    next();
  });
  const ctx = (req: Authed) => ({ actor: req.principal!.actor, now: now() });

  router.get('/patients/:id', async (req: Authed, res) => {
    const q = parseInput(patientQuery, req.query);
    const r = await o.service.patient(ctx(req), String(req.params.id), { ...q, live: q.live === 'true' });
    send(req, res, r, () =>
      toCsv(r.exposureByDate, ['asOf', 'cumulativeMg', 'lowerBound', 'currentDailyMg', 'crossedOn']),
    );
  });

  router.get('/crossings', async (req: Authed, res) => {
    const q = parseInput(crossingsQuery, req.query);
    const r = await o.service.crossings(ctx(req), { ...q, thresholdMg: q.threshold });
    send(req, res, r, () => toCsv(r.items, ['patient', 'crossedOn', 'firstWbMri', 'daysToImaging']));
  });

  router.get('/cards', async (req: Authed, res) => {
    const q = parseInput(cardsQuery, req.query);
    const r = await o.service.cards(ctx(req), q);
    send(req, res, r, () =>
      toCsv(r.items, ['shownAt', 'service', 'patient', 'uuid', 'indicator', 'response', 'overrideReason', 'summary']),
    );
  });

  router.get('/verify', async (req: Authed, res) => {
    res.json(await o.service.verify(ctx(req)));
  });

  router.get('/export', async (req: Authed, res) => {
    const q = parseInput(windowed, req.query);
    const self = `${req.protocol}://${req.get('host')}${req.baseUrl}/export`;
    const bundle = await o.service.export(
      ctx(req),
      q,
      (cursor) =>
        `${self}?${new URLSearchParams({ from: q.from, to: q.to, cursor, ...(q.limit ? { limit: String(q.limit) } : {}) })}`,
    );
    sendResource(res, 200, bundle);
  });
  return router;
}
