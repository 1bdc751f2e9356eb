/**
 * CDS Hooks 2.0 endpoints: discovery, service calls and feedback, with CORS for browser-based clients
 * (the preflight needs no token) and CDS client JWT authentication on every call.
 */
import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import type { z } from 'zod';
import type { AuditLog } from '../audit/auditLog.ts';
import { type CdsAuthOptions, type CdsClient, verifyCdsClient } from '../auth/cdsJwt.ts';
import { PreconditionFailed } from '../cdsHooks/data.ts';
import { feedbackBodySchema, hookRequestSchema } from '../cdsHooks/request.ts';
import { type CdsServiceDeps, runHook } from '../cdsHooks/service.ts';
import { type CdsServiceDefinition, discoveryEntry } from '../cdsHooks/serviceDefinition.ts';
import { operationOutcome } from '../fhir/outcome.ts';
import { cdsCors } from './cors.ts';

export interface CdsRouteOptions {
  services: readonly CdsServiceDefinition[];
  auth: CdsAuthOptions;
  deps: CdsServiceDeps;
  audit?: AuditLog;
}

const JSON_TYPES = ['application/json', 'application/fhir+json', 'application/json+fhir', 'text/plain'];

function outcome(res: Response, status: number, code: Parameters<typeof operationOutcome>[0], text: string): void {
  res
    .status(status)
    .type('application/json')
    .send(JSON.stringify(operationOutcome(code, text)));
}

function invalid(res: Response, error: z.ZodError, at?: string): void {
  const path = (p: PropertyKey[]) => [at, ...p].filter((x) => x !== undefined).join('.') || 'body';
  outcome(res, 400, 'invalid', error.issues.map((i) => `${path(i.path)}: ${i.message}`).join('; '));
}

export function cdsRoutes(o: CdsRouteOptions): Router {
  const router = express.Router();
  const byId = new Map(o.services.map((s) => [s.id, s]));
  const discovery = JSON.stringify({ services: o.services.map(discoveryEntry) });
  router.use(cdsCors);

  // The client JWT is checked while the body is read and parsed (ES384 verification runs off the main
  // thread); every handler waits for the verdict before doing or saying anything else.
  type Authed = Request & { cdsAuth?: Promise<CdsClient | undefined>; cdsClient?: CdsClient };
  const audienceOf = (req: Request): string => {
    const m = /^\/([^/]+)(\/feedback)?\/?$/.exec(req.path);
    return `${o.deps.publicUrl()}/cds-services${m ? `/${m[1]}${m[2] ?? ''}` : ''}`;
  };
  router.use((req: Authed, _res, next) => {
    req.cdsAuth = verifyCdsClient(req.headers.authorization, audienceOf(req), o.auth).catch(() => undefined);
    next();
  });
  router.use(express.json({ type: JSON_TYPES, limit: '10mb' }));

  const authenticate = () => async (req: Authed, res: Response, next: NextFunction) => {
    const client = await req.cdsAuth;
    if (!client) {
      res.status(401).set('WWW-Authenticate', 'Bearer').end();
      return;
    }
    req.cdsClient = client;
    next();
  };

  router.get('/', authenticate(), (_req, res) => {
    res.type('application/json').send(discovery);
  });

  router.post('/:id', authenticate(), async (req: Request & { cdsClient?: CdsClient }, res) => {
    const decl = byId.get(String(req.params.id));
    if (!decl) return outcome(res, 404, 'not-found', `No CDS service "${req.params.id}"`);
    const parsed = hookRequestSchema.safeParse(req.body);
    if (!parsed.success) return invalid(res, parsed.error);
    if (parsed.data.hook !== decl.hook)
      return outcome(
        res,
        400,
        'not-supported',
        `Service ${decl.id} answers the ${decl.hook} hook, not ${parsed.data.hook}`,
      );
    const context = decl.context.safeParse(parsed.data.context);
    if (!context.success) return invalid(res, context.error, 'context');
    try {
      res.json(await runHook(decl, parsed.data, req.cdsClient!, o.deps));
    } catch (err) {
      if (err instanceof PreconditionFailed) return outcome(res, 412, 'processing', err.message);
      throw err;
    }
  });

  router.post('/:id/feedback', authenticate(), async (req: Request & { cdsClient?: CdsClient }, res) => {
    const decl = byId.get(String(req.params.id));
    if (!decl) return outcome(res, 404, 'not-found', `No CDS service "${req.params.id}"`);
    const parsed = feedbackBodySchema.safeParse(req.body);
    if (!parsed.success) return invalid(res, parsed.error);
    for (const f of parsed.data.feedback) {
      await o.audit?.recordFeedback({
        recordedAt: o.deps.now().toISOString(),
        service: decl.id,
        card: f.card,
        outcome: f.outcome,
        outcomeTimestamp: f.outcomeTimestamp,
        acceptedSuggestions: f.acceptedSuggestions,
        overrideReason: f.overrideReason,
        tenant: req.cdsClient!.tenant,
        clientIss: req.cdsClient!.iss,
      });
    }
    res.status(200).json({});
  });
  // A body that cannot be parsed: 401 to an unauthenticated caller, else 400/413 with an OperationOutcome.
  router.use(async (err: Error, req: Authed, res: Response, next: NextFunction) => {
    if (!(await req.cdsAuth)) {
      res.status(401).set('WWW-Authenticate', 'Bearer').end();
      return;
    }
    next(err);
  });
  return router;
}
