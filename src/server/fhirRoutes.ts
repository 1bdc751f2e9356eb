/**
 * The demo FHIR R4 REST server: @medplum/fhir-router over its in-memory repository, mounted on Express.
 * Read, search, create, conditional create, update, delete, history and transaction are Medplum's; this adapter
 * adds what a deployed server does around them: the CapabilityStatement at /metadata, search by GET and by POST
 * with its parameters checked and paged (fhirSearch.ts), validation of written resources, HTTP statuses mapped
 * from Medplum's outcomes in one place, and an OperationOutcome (application/fhir+json) on every error.
 * CORS is applied where it is mounted (app.ts). With `bulk`, Bulk Data group export and the SMART discovery document
 * are served too (bulkExportRoutes.ts), ahead of the generic routes; they alone ask for a token. With `smart`, the
 * server is SMART-enabled (the contract is at the top of smartLaunch.ts): the discovery document names the
 * authorization endpoint too, the CapabilityStatement carries the oauth-uris, and the CDS Hooks Sandbox's launch
 * endpoint is served at [base]/_services/smart/Launch. The other routes stay open: a bearer token sent to them,
 * valid or not, is ignored.
 */
import { getStatus, isOk, isResourceType, OperationOutcomeError, validateResource } from '@medplum/core';
import type { FhirRepository, HttpMethod } from '@medplum/fhir-router';
import { FhirRouter } from '@medplum/fhir-router';
import type { Bundle, OperationOutcome, Resource } from '@medplum/fhirtypes';
import express, { type Request, type Response, type Router } from 'express';
import { operationOutcome } from '../fhir/outcome.ts';
import { type BulkExportOptions, bulkExportRoutes } from './bulkExportRoutes.ts';
import { capabilityStatement } from './capabilityStatement.ts';
import { finishSearchBundle, planSearch, strictHandling } from './fhirSearch.ts';
import { smartConfiguration } from './oauthRoutes.ts';
import { JSON_MEDIA_TYPES, sendOutcome, sendResource } from './outcome.ts';
import { type LaunchContexts, smartLaunchRoutes } from './smartLaunch.ts';

/** SMART App Launch on the demo server (smartLaunch.ts); the same LaunchContexts as the oauth routes' `smart`. */
export interface SmartFhirOptions {
  launches: LaunchContexts;
  /** oauthRoutes.ts authorizeUrl(publicUrl) and tokenUrl(publicUrl). */
  authorizeUrl: () => string;
  tokenUrl: () => string;
}

export interface FhirRouteOptions {
  repo: FhirRepository;
  /** Largest page a search returns, whatever _count asks for (servers cap pages; clients must follow next). */
  maxPageSize?: number;
  defaultPageSize?: number;
  /** Bulk Data export (Group/[id]/$export) with SMART Backend Services tokens; without it, not offered. */
  bulk?: Omit<BulkExportOptions, 'repo'>;
  /** SMART App Launch: discovery with the authorization endpoint, oauth-uris, the Sandbox launch endpoint. */
  smart?: SmartFhirOptions;
}

function validationError(resource: unknown): OperationOutcome | undefined {
  if (!resource || typeof resource !== 'object' || typeof (resource as Resource).resourceType !== 'string')
    return operationOutcome('structure', 'The request body must be a FHIR resource with a resourceType');
  try {
    const issues = validateResource(resource as Resource);
    const errors = issues.filter((i) => i.severity === 'error' || i.severity === 'fatal');
    return errors.length ? { resourceType: 'OperationOutcome', issue: errors } : undefined;
  } catch (err) {
    if (err instanceof OperationOutcomeError) return err.outcome;
    return operationOutcome('invalid', err instanceof Error ? err.message : String(err));
  }
}

function validateBody(method: string, body: unknown): OperationOutcome | undefined {
  if (method !== 'POST' && method !== 'PUT') return undefined;
  if (
    (body as Resource | undefined)?.resourceType === 'Bundle' &&
    ['transaction', 'batch'].includes((body as Bundle).type ?? '')
  ) {
    for (const [i, e] of ((body as Bundle).entry ?? []).entries()) {
      if (!e.resource) continue;
      const problem = validationError(e.resource);
      if (problem) {
        for (const issue of problem.issue)
          issue.expression = [
            `Bundle.entry[${i}].resource${issue.expression?.[0] ? `.${issue.expression[0].replace(/^[A-Za-z]+\.?/, '')}` : ''}`,
          ];
        return problem;
      }
    }
    return undefined;
  }
  return validationError(body);
}

/**
 * Medplum's outcome → HTTP, in one place. Its success outcomes carry their own status (allOk 200, created 201,
 * accepted 202, notModified 304); a success with no resource, such as a delete, answers its status with the
 * OperationOutcome as the body (https://hl7.org/fhir/R4/http.html#delete). Anything else is an error, 4xx or 5xx.
 */
function reply(req: Request, res: Response, outcome: OperationOutcome, resource?: Resource): void {
  const status = getStatus(outcome);
  if (!isOk(outcome)) {
    sendResource(res, status >= 400 ? status : 500, outcome);
    return;
  }
  if (status === 304) {
    res.status(304).end();
    return;
  }
  if (!resource) {
    sendResource(res, status, outcome);
    return;
  }
  if (resource.meta?.versionId) res.set('ETag', `W/"${resource.meta.versionId}"`);
  if (status === 201 && resource.id) res.set('Location', `${req.baseUrl}/${resource.resourceType}/${resource.id}`);
  sendResource(res, status, resource);
}

const baseUrl = (req: Request): string => `${req.protocol}://${req.get('host')}${req.baseUrl}`;
const rawQuery = (req: Request): string => (req.url.includes('?') ? req.url.slice(req.url.indexOf('?') + 1) : '');

/** The search parameters of GET [type]?…, GET [type]/_search?… and POST [type]/_search (form body and URL). */
function searchPairs(req: Request): Array<[string, string]> | OperationOutcome {
  const pairs = [...new URLSearchParams(rawQuery(req))];
  const body: unknown = req.body;
  if (req.method !== 'POST' || body === undefined || (typeof body === 'object' && !Object.keys(body ?? {}).length))
    return pairs;
  if (typeof body !== 'string')
    return operationOutcome('not-supported', 'Search by POST takes an application/x-www-form-urlencoded body');
  return [...pairs, ...new URLSearchParams(body)];
}

export function fhirRoutes(options: FhirRouteOptions): Router {
  const limits = { maxPageSize: options.maxPageSize ?? 100, defaultPageSize: options.defaultPageSize ?? 20 };
  const fhirRouter = new FhirRouter();
  const run = (method: HttpMethod, url: string, req: Request) =>
    fhirRouter.handleRequest(
      {
        method,
        url,
        pathname: '',
        body: req.body,
        params: {},
        query: {},
        headers: req.headers,
        config: { transactions: true },
      },
      options.repo,
    );
  const router = express.Router();
  router.use(express.json({ type: [...JSON_MEDIA_TYPES], limit: '20mb' }));
  // Search by POST (https://hl7.org/fhir/R4/http.html#search): the form is kept as text and read with
  // URLSearchParams, so that repeated parameters (AND) keep their order and values exactly.
  router.use(express.text({ type: 'application/x-www-form-urlencoded', limit: '1mb' }));
  // Before the generic routes (and before bulk's Backend-Services-only discovery document).
  const smart = options.smart;
  if (smart) {
    router.get('/.well-known/smart-configuration', (_req, res) => {
      res
        .set('Cache-Control', 'no-cache')
        .type('application/json')
        .send(JSON.stringify(smartConfiguration(smart.tokenUrl(), smart.authorizeUrl())));
    });
    router.use(smartLaunchRoutes({ repo: options.repo, launches: smart.launches }));
  }
  // Before the generic routes: `$export` on a Group is ours, not Medplum's.
  if (options.bulk) router.use(bulkExportRoutes({ ...options.bulk, repo: options.repo }));
  router.all('/metadata', (req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.set('Allow', 'GET');
      sendOutcome(res, 405, 'not-supported', 'The capabilities interaction is GET [base]/metadata');
      return;
    }
    const oauth = smart && { authorize: smart.authorizeUrl(), token: smart.tokenUrl() };
    sendResource(res, 200, capabilityStatement(baseUrl(req), { oauth, bulk: !!options.bulk }));
  });
  router.all('/{*path}', async (req: Request, res: Response) => {
    try {
      const method = req.method.toUpperCase() as HttpMethod;
      const first = /^\/([^/]+)/.exec(req.path)?.[1];
      // https://hl7.org/fhir/R4/http.html#search: 404 for a resource type the server does not know.
      if (first && !first.startsWith('$') && !isResourceType(first)) {
        sendOutcome(res, 404, 'not-found', `Unknown resource type "${first}"`);
        return;
      }
      const search = /^\/([A-Za-z]+)(\/_search)?\/?$/.exec(req.path);
      if (search && (method === 'GET' || (method === 'POST' && search[2]))) {
        const type = search[1]!;
        const pairs = searchPairs(req);
        if (!Array.isArray(pairs)) {
          sendResource(res, 415, pairs);
          return;
        }
        const plan = planSearch(type, pairs, strictHandling(req.get('prefer')), limits);
        if (!('query' in plan)) {
          sendResource(res, 400, plan);
          return;
        }
        const [outcome, bundle] = await run('GET', `/${type}?${plan.query}`, req);
        if (bundle?.resourceType === 'Bundle') finishSearchBundle(bundle, plan, `${baseUrl(req)}/${type}`);
        reply(req, res, outcome, bundle);
        return;
      }
      // Conditional create (https://hl7.org/fhir/R4/http.html#ccreate) decides between create and "already there"
      // by a search: a parameter the server does not understand would silently match nothing and create a
      // duplicate, so the If-None-Exist query is checked strictly, as a search under handling=strict would be.
      const condition = req.get('if-none-exist');
      const type = /^\/([A-Za-z]+)\/?$/.exec(req.path)?.[1];
      if (method === 'POST' && condition && type) {
        const plan = planSearch(type, new URLSearchParams(condition), true, limits);
        if (!('query' in plan)) {
          sendResource(res, 400, plan);
          return;
        }
      }
      const invalid = validateBody(method, req.body);
      if (invalid) {
        sendResource(res, 400, invalid);
        return;
      }
      const [outcome, resource] = await run(method, req.url, req);
      reply(req, res, outcome, resource);
    } catch (err) {
      // Medplum reports some refusals by throwing its outcome; anything else is ours to answer (outcome.ts).
      if (!(err instanceof OperationOutcomeError)) throw err;
      sendResource(res, getStatus(err.outcome) >= 400 ? getStatus(err.outcome) : 500, err.outcome);
    }
  });
  return router;
}
