/**
 * CDS Hooks 2.0 endpoints: discovery, service calls and feedback, with CORS for browser-based clients
 * (the preflight needs no token) and CDS client JWT authentication on every call.
 */
import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import type { AuditLog } from '../audit/auditLog.ts';
import {
  type CdsAuthOptions,
  type CdsClient,
  type CdsVerdict,
  checkCdsClient,
  ReplayStoreUnavailableError,
} from '../auth/cdsJwt.ts';
import { DataTooSlow } from '../cdsHooks/data.ts';
import { assertJsonShape, feedbackBodySchema, fhirShapeProblem, hookRequestSchema } from '../cdsHooks/request.ts';
import { type CdsServiceDeps, runHook } from '../cdsHooks/service.ts';
import { type CdsServiceDefinition, discoveryEntry } from '../cdsHooks/serviceDefinition.ts';
import { OsteoWatchError, parseInput } from '../errors.ts';
import { redactPath } from '../log/logger.ts';
import { cdsCors } from './cors.ts';
import { JSON_MEDIA_TYPES, outcomeErrors, PLAIN_JSON, sendOutcome } from './outcome.ts';

export interface CdsRouteOptions {
  services: readonly CdsServiceDefinition[];
  auth: CdsAuthOptions;
  deps: CdsServiceDeps;
  audit?: AuditLog;
}

const JSON_TYPES = [...JSON_MEDIA_TYPES, 'text/plain'];

/**
 * The CDS Hooks Sandbox's drafts carry MedicationRequest.category and .reasonCode as one object, not an array
 * (tests/helpers/cdsSandbox.ts); orderProjection.ts repairs exactly these, so they pass the shape check.
 */
/**
 * Single objects real clients send where R4 wants an array, in draft orders only: the Sandbox's `category` and
 * `reasonCode`, and `Dosage.doseAndRate` as the official CDS Hooks library examples write it
 * (https://cds-hooks.hl7.org/hooks/order-select/). Drafts are read leniently; the engine wraps them.
 */
const SANDBOX_DRAFT_SINGLES = new Set([
  'MedicationRequest.category',
  'MedicationRequest.reasonCode',
  'Dosage.doseAndRate',
]);

/** context.draftOrders in the FHIR JSON shape the order services read: 400 naming the field otherwise. */
function assertDraftOrders(draftOrders: unknown): void {
  if (draftOrders === undefined) return;
  const p = fhirShapeProblem(draftOrders, 'context.draftOrders', { singleForArray: SANDBOX_DRAFT_SINGLES });
  if (p) throw new OsteoWatchError('invalid', `${p.path}: ${p.problem}`, { code: 'structure', expression: [p.path] });
}

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
  // The verdict: the client, why it is refused (a 401 naming the reason), or the replay store being unreachable
  // (503: a jti that cannot be checked is never accepted, and the caller may retry).
  type Verdict = CdsVerdict | ReplayStoreUnavailableError;
  type Authed = Request & { cdsAuth?: Promise<Verdict>; cdsClient?: CdsClient };
  const audienceOf = (req: Request): string => {
    const m = /^\/([^/]+)(\/feedback)?\/?$/.exec(req.path);
    return `${o.deps.publicUrl()}/cds-services${m ? `/${m[1]}${m[2] ?? ''}` : ''}`;
  };
  router.use((req: Authed, _res, next) => {
    req.cdsAuth = checkCdsClient(req.headers.authorization, audienceOf(req), o.auth).catch(
      (err: unknown): Verdict =>
        err instanceof ReplayStoreUnavailableError
          ? err
          : { refused: { reason: 'The client JWT could not be checked' } },
    );
    next();
  });
  /**
   * 401 with the reason, as every error of this API: an OperationOutcome (issue `login`) in plain JSON. CDS Hooks
   * 2.0 sets no error body (https://cds-hooks.hl7.org/2.0/#http-response: other 4xx/5xx MAY be returned); this is
   * the service's own convention, as the audit and surveillance APIs answer theirs. WWW-Authenticate per RFC 6750
   * §3.1: `invalid_token` when a token was sent. Logged at warn with the path and the claimed `iss`, never the token.
   */
  const refuse = (req: Request, res: Response, refused: { reason: string; iss?: string }): void => {
    o.deps.logger?.warn(
      { path: redactPath(req.originalUrl), iss: refused.iss, reason: refused.reason },
      'CDS client refused (401)',
    );
    res.set('WWW-Authenticate', req.headers.authorization ? 'Bearer error="invalid_token"' : 'Bearer');
    sendOutcome(res, 401, 'login', refused.reason, { type: PLAIN_JSON });
  };
  router.use(express.json({ type: JSON_TYPES, limit: '10mb' }));

  /** Waits for the verdict: true for a trusted client (req.cdsClient set); else the 401 or the 503 is on its way. */
  const admitted = async (req: Authed, res: Response, next: NextFunction): Promise<boolean> => {
    const verdict = await req.cdsAuth;
    if (verdict instanceof ReplayStoreUnavailableError) {
      next(verdict);
      return false;
    }
    if (!verdict || 'refused' in verdict) {
      refuse(req, res, verdict?.refused ?? { reason: 'The client JWT was not checked' });
      return false;
    }
    req.cdsClient = verdict.client;
    return true;
  };
  const authenticate = () => async (req: Authed, res: Response, next: NextFunction) => {
    if (await admitted(req, res, next)) next();
  };

  router.get('/', authenticate(), (_req, res) => {
    res.type(PLAIN_JSON).send(discovery);
  });

  router.post('/:id', authenticate(), async (req: Request & { cdsClient?: CdsClient }, res) => {
    const decl = service(byId, req.params.id);
    // Back-pressure: the audit trail cannot take another record now (behind, store unreachable, shutting down):
    // 503 with Retry-After before any work, rather than an answer that could not be recorded.
    if (o.deps.audit && !o.deps.audit.accepting()) {
      res.set('Retry-After', '2');
      throw new OsteoWatchError('unavailable', 'The audit trail cannot record this call now; try again shortly');
    }
    // Types at the boundary: JSON no FHIR value can be (too deep, not Unicode) is a bad request (400 naming
    // the field); a prefetch value in the wrong FHIR shape is an unusable prefetch (data.ts: fetched, or 412).
    assertJsonShape(req.body);
    const request = parseInput(hookRequestSchema, req.body);
    if (request.hook !== decl.hook)
      throw new OsteoWatchError('invalid', `Service ${decl.id} answers the ${decl.hook} hook, not ${request.hook}`, {
        code: 'not-supported',
      });
    parseInput(decl.context, request.context, 'context');
    assertDraftOrders(request.context.draftOrders);
    // Required data that can be had neither from prefetch nor from fhirServer: PreconditionFailed, a 412; that
    // fhirServer did not deliver in time: DataTooSlow, a 503 whose Retry-After says when to try again
    // (https://www.rfc-editor.org/rfc/rfc9110#field.retry-after).
    try {
      res.json(await runHook(decl, request, req.cdsClient!, o.deps));
    } catch (err) {
      if (err instanceof DataTooSlow) res.set('Retry-After', String(err.retryAfterSeconds));
      throw err;
    }
  });

  router.post('/:id/feedback', authenticate(), async (req: Request & { cdsClient?: CdsClient }, res) => {
    const decl = service(byId, req.params.id);
    // A lone surrogate ("card": "c\ud800") or a nesting without end: 400 naming the field, before the store sees it.
    assertJsonShape(req.body);
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
  // A body that cannot be parsed: 401 to an unauthenticated caller (the reason it is refused, nothing about its
  // body), else 400/413 with an OperationOutcome.
  router.use(async (err: Error, req: Authed, res: Response, next: NextFunction) => {
    if (await admitted(req, res, next)) next(err);
  });
  router.use(outcomeErrors({ logger: o.deps.logger, type: PLAIN_JSON }));
  return router;
}
