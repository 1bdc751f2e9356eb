/**
 * CDS Hooks 2.0 endpoints: discovery, service calls and feedback, with CORS for browser-based clients
 * (the preflight needs no token) and CDS client JWT authentication on every call.
 */
import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import type { AuditLog } from '../audit/auditLog.ts';
import { type CdsAuthOptions, type CdsClient, verifyCdsClient } from '../auth/cdsJwt.ts';
import { feedbackBodySchema, hookRequestSchema } from '../cdsHooks/request.ts';
import { type CdsServiceDeps, runHook } from '../cdsHooks/service.ts';
import { type CdsServiceDefinition, discoveryEntry } from '../cdsHooks/serviceDefinition.ts';
import { OsteoWatchError, parseInput } from '../errors.ts';
import { cdsCors } from './cors.ts';
import { FHIR_JSON, outcomeErrors, PLAIN_JSON } from './outcome.ts';

export interface CdsRouteOptions {
  services: readonly CdsServiceDefinition[];
  auth: CdsAuthOptions;
  deps: CdsServiceDeps;
  audit?: AuditLog;
}

const JSON_TYPES = [PLAIN_JSON, FHIR_JSON, 'application/json+fhir', 'text/plain'];

function service(byId: ReadonlyMap<string, CdsServiceDefinition>, id: unknown): CdsServiceDefinition {
  const decl = byId.get(String(id));
  if (!decl) throw new OsteoWatchError('not-found', `No CDS service "${id}"`);
  return decl;
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
    res.type(PLAIN_JSON).send(discovery);
  });

  router.post('/:id', authenticate(), async (req: Request & { cdsClient?: CdsClient }, res) => {
    const decl = service(byId, req.params.id);
    const request = parseInput(hookRequestSchema, req.body);
    if (request.hook !== decl.hook)
      throw new OsteoWatchError('invalid', `Service ${decl.id} answers the ${decl.hook} hook, not ${request.hook}`, {
        code: 'not-supported',
      });
    parseInput(decl.context, request.context, 'context');
    // Required data that can be had neither from prefetch nor from fhirServer: PreconditionFailed, a 412.
    res.json(await runHook(decl, request, req.cdsClient!, o.deps));
  });

  router.post('/:id/feedback', authenticate(), async (req: Request & { cdsClient?: CdsClient }, res) => {
    const decl = service(byId, req.params.id);
    for (const f of parseInput(feedbackBodySchema, req.body).feedback) {
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
  router.use(outcomeErrors({ logger: o.deps.logger, type: PLAIN_JSON }));
  return router;
}
