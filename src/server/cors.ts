/**
 * CORS for the browser-facing endpoints (CDS Hooks, the demo FHIR server): one middleware, one policy per mount.
 * It runs first on its mount, so that a preflight is answered before body parsing, authentication or routing
 * (https://fetch.spec.whatwg.org/#cors-preflight-fetch), and the headers it sets stay on every later answer,
 * errors included, since a browser hides a response without Access-Control-Allow-Origin from the page.
 */
import type { NextFunction, Request, Response } from 'express';

export interface CorsPolicy {
  methods: readonly string[];
  /** Request headers always allowed. */
  allowHeaders: readonly string[];
  /** Further request headers allowed when a preflight asks for them (Access-Control-Request-Headers). */
  optionalHeaders?: readonly string[];
  exposeHeaders: readonly string[];
  /**
   * The origins allowed to make credentialed calls: their Origin is reflected with
   * `Access-Control-Allow-Credentials: true`. Every other caller gets `Access-Control-Allow-Origin: *`, with which
   * browsers never send credentials (https://fetch.spec.whatwg.org/#cors-protocol-and-credentials) — all a
   * bearer-authenticated API needs. Reflecting any origin with credentials would let every web page make
   * credentialed calls, so it is never done. A function, so that the set can be configured after the policy
   * is built (main.ts: OSTEOWATCH_CORS_ORIGINS).
   */
  credentialedOrigins?: () => ReadonlySet<string>;
  maxAgeSeconds: number;
}

export function cors(policy: CorsPolicy): (req: Request, res: Response, next: NextFunction) => void {
  const optional = new Map((policy.optionalHeaders ?? []).map((h) => [h.toLowerCase(), h]));
  const base = new Set(policy.allowHeaders.map((h) => h.toLowerCase()));
  const fixed = {
    'Access-Control-Allow-Methods': policy.methods.join(', '),
    'Access-Control-Expose-Headers': policy.exposeHeaders.join(', '),
    'Access-Control-Max-Age': String(policy.maxAgeSeconds),
  };
  return (req, res, next) => {
    const headers = [...policy.allowHeaders];
    if (optional.size) {
      for (const asked of (req.get('access-control-request-headers') ?? '').split(',')) {
        const name = optional.get(asked.trim().toLowerCase());
        if (name && !base.has(name.toLowerCase()) && !headers.includes(name)) headers.push(name);
      }
      res.vary('Access-Control-Request-Headers');
    }
    const credentialed = policy.credentialedOrigins?.();
    const origin = req.get('origin');
    const withCredentials = !!origin && !!credentialed?.has(origin);
    res.set({
      'Access-Control-Allow-Origin': withCredentials ? origin : '*',
      ...fixed,
      'Access-Control-Allow-Headers': headers.join(', '),
      ...(withCredentials ? { 'Access-Control-Allow-Credentials': 'true' } : {}),
    });
    // The answer depends on the Origin only when some origins are credentialed.
    if (credentialed?.size) res.vary('Origin');
    if (req.method === 'OPTIONS') {
      res.status(204).end();
      return;
    }
    next();
  };
}

let cdsCredentialedOrigins: ReadonlySet<string> = new Set();

/**
 * The origins allowed credentialed CDS Hooks calls (OSTEOWATCH_CORS_ORIGINS; default none). Origins are compared
 * exactly as browsers send them: scheme://host[:port], no trailing slash.
 */
export function setCdsCredentialedOrigins(origins: Iterable<string>): void {
  cdsCredentialedOrigins = new Set([...origins].map((o) => o.trim().replace(/\/+$/, '')).filter(Boolean));
}

/**
 * CDS Hooks 2.0 (https://cds-hooks.hl7.org/2.0/#cross-origin-resource-sharing): any origin, bearer-authenticated
 * (`*`, no credentials); credentials only for the configured origins.
 */
export const cdsCors = cors({
  methods: ['GET', 'POST', 'OPTIONS'],
  allowHeaders: ['Content-Type', 'Authorization'],
  exposeHeaders: ['Origin', 'Accept', 'Content-Location', 'Location', 'X-Requested-With'],
  credentialedOrigins: () => cdsCredentialedOrigins,
  maxAgeSeconds: 600,
});

/**
 * The demo FHIR server, for browser apps such as the CDS Hooks Sandbox: the RESTful interactions' methods, and the
 * request headers FHIR defines (https://hl7.org/fhir/R4/http.html#Http-Headers) when a preflight asks for them.
 */
export const fhirCors = cors({
  methods: ['GET', 'POST', 'PUT', 'DELETE', 'OPTIONS'],
  allowHeaders: ['Authorization', 'Content-Type', 'Accept'],
  optionalHeaders: ['Prefer', 'If-Match', 'If-None-Match', 'If-None-Exist', 'If-Modified-Since', 'X-Requested-With'],
  exposeHeaders: ['Location', 'Content-Location', 'ETag', 'Last-Modified'],
  maxAgeSeconds: 600,
});
