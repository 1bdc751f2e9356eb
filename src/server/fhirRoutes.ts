/**
 * The demo FHIR R4 REST server: @medplum/fhir-router over its in-memory repository, mounted on Express.
 * Read, search (with paging links), create, conditional create, update, delete, history and transaction are
 * Medplum's; this adapter adds what a deployed server does around them: validation of written resources,
 * a page-size cap, Bundle.link (self/next/previous), and OperationOutcome bodies on every error.
 */
import { getStatus, isOk, OperationOutcomeError, validateResource } from '@medplum/core';
import type { FhirRepository, HttpMethod } from '@medplum/fhir-router';
import { FhirRouter } from '@medplum/fhir-router';
import type { Bundle, BundleLink, OperationOutcome, Resource } from '@medplum/fhirtypes';
import express, { type Request, type Response, type Router } from 'express';
import { operationOutcome } from '../fhir/outcome.ts';

export interface FhirRouteOptions {
  repo: FhirRepository;
  /** Largest page a search returns, whatever _count asks for (servers cap pages; clients must follow next). */
  maxPageSize?: number;
  defaultPageSize?: number;
}

const FHIR_JSON = 'application/fhir+json';

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

function addPagingLinks(bundle: Bundle, req: Request, pageSize: number, offset: number): void {
  const base = `${req.protocol}://${req.get('host')}${req.baseUrl}${req.path}`;
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(req.query)) {
    if (k === '_offset' || k === '_count') continue;
    for (const value of Array.isArray(v) ? v : [v]) if (typeof value === 'string') params.append(k, value);
  }
  const link = (relation: string, off: number): BundleLink => {
    const p = new URLSearchParams(params);
    p.set('_count', String(pageSize));
    p.set('_offset', String(off));
    return { relation, url: `${base}?${p}` };
  };
  const links: BundleLink[] = [link('self', offset)];
  const total = bundle.total;
  const returned = bundle.entry?.filter((e) => e.search?.mode !== 'include').length ?? 0;
  if ((total !== undefined && offset + returned < total) || (total === undefined && returned === pageSize))
    links.push(link('next', offset + pageSize));
  if (offset > 0) links.push(link('previous', Math.max(0, offset - pageSize)));
  bundle.link = links;
}

export function fhirRoutes(options: FhirRouteOptions): Router {
  const maxPage = options.maxPageSize ?? 100;
  const defaultPage = options.defaultPageSize ?? 20;
  const fhirRouter = new FhirRouter();
  const router = express.Router();
  router.use(express.json({ type: ['application/json', FHIR_JSON, 'application/json+fhir'], limit: '20mb' }));
  router.all('/{*path}', async (req: Request, res: Response) => {
    const method = req.method.toUpperCase() as HttpMethod;
    const invalid = validateBody(method, req.body);
    if (invalid) {
      res.status(400).type(FHIR_JSON).send(JSON.stringify(invalid));
      return;
    }
    const isSearch = method === 'GET' && /^\/[A-Za-z]+\/?$/.test(req.path);
    const query = new URLSearchParams(req.url.includes('?') ? req.url.slice(req.url.indexOf('?') + 1) : '');
    let pageSize = defaultPage;
    let offset = 0;
    if (isSearch) {
      const asked = Number(query.get('_count') ?? defaultPage);
      pageSize = Math.max(0, Math.min(Number.isFinite(asked) ? asked : defaultPage, maxPage));
      offset = Math.max(0, Number(query.get('_offset') ?? 0) || 0);
      query.set('_count', String(pageSize));
      query.set('_offset', String(offset));
      if (!query.has('_total')) query.set('_total', 'accurate');
    }
    const qs = query.toString();
    const url = `${req.path}${qs ? `?${qs}` : ''}`;
    try {
      const [outcome, resource] = await fhirRouter.handleRequest(
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
      const status = getStatus(outcome);
      if (!isOk(outcome) || !resource) {
        res.status(Math.max(status, 400)).type(FHIR_JSON).send(JSON.stringify(outcome));
        return;
      }
      if (isSearch && resource.resourceType === 'Bundle') addPagingLinks(resource as Bundle, req, pageSize, offset);
      if ((resource as Resource).meta?.versionId) res.set('ETag', `W/"${(resource as Resource).meta!.versionId}"`);
      if (status === 201 && resource.id) res.set('Location', `${req.baseUrl}/${resource.resourceType}/${resource.id}`);
      res.status(status).type(FHIR_JSON).send(JSON.stringify(resource));
    } catch (err) {
      const outcome =
        err instanceof OperationOutcomeError ? err.outcome : operationOutcome('exception', 'internal error');
      res
        .status(getStatus(outcome) >= 400 ? getStatus(outcome) : 500)
        .type(FHIR_JSON)
        .send(JSON.stringify(outcome));
    }
  });
  return router;
}
