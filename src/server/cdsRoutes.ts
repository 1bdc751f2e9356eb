/**
 * CDS Hooks 2.0 endpoints: discovery, service calls and feedback, with CORS for browser-based clients
 * (the preflight needs no token) and CDS client JWT authentication on every call.
 */
import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import type { z } from 'zod';
import type { AuditLog } from '../audit/auditLog.ts';
import { type CdsAuthOptions, type CdsClient, verifyCdsClient } from '../auth/cdsJwt.ts';
import { PreconditionFailed } from '../cdsHooks/data.ts';
import type { ServiceDeclaration } from '../cdsHooks/declarations.ts';
import { feedbackBodySchema, hookRequestSchema } from '../cdsHooks/request.ts';
import { type CdsServiceDeps, runHook } from '../cdsHooks/service.ts';
import { operationOutcome } from '../fhir/outcome.ts';

export interface CdsRouteOptions {
  services: ServiceDeclaration[];
  auth: CdsAuthOptions;
  deps: CdsServiceDeps;
  audit?: AuditLog;
}

const JSON_TYPES = ['application/json', 'application/fhir+json', 'application/json+fhir', 'text/plain'];

function cors(req: Request, res: Response, next: NextFunction): void {
  res.set({
    'Access-Control-Allow-Origin': req.get('origin') ?? '*',
    'Access-Control-Allow-Methods': 'GET, POST, OPTIONS',
    'Access-Control-Allow-Headers': 'Content-Type, Authorization',
    'Access-Control-Allow-Credentials': 'true',
    'Access-Control-Expose-Headers': 'Origin, Accept, Content-Location, Location, X-Requested-With',
    'Access-Control-Max-Age': '600',
    Vary: 'Origin',
  });
  if (req.method === 'OPTIONS') {
    res.status(204).end();
    return;
  }
  next();
}

function outcome(res: Response, status: number, code: Parameters<typeof operationOutcome>[0], text: string): void {
  res
    .status(status)
    .type('application/json')
    .send(JSON.stringify(operationOutcome(code, text)));
}

function invalid(res: Response, error: z.ZodError): void {
  outcome(res, 400, 'invalid', error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; '));
}

export function cdsRoutes(o: CdsRouteOptions): Router {
  const router = express.Router();
  const byId = new Map(o.services.map((s) => [s.id, s]));
  router.use(cors);

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
    res.json({ services: o.services });
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
    if (decl.hook !== 'patient-view' && !parsed.data.context.draftOrders)
      return outcome(res, 400, 'required', `context.draftOrders is required for ${decl.hook}`);
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
