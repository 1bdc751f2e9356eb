/**
 * The clinician pages: every folder of src/pages/ built by Vite into dist/pages/ (scripts/build-pages.ts) and
 * served at its own path — /app/ (the exposure timeline, a SMART App Launch app), /dashboard/, … — with their
 * shared, content-hashed bundles at /assets/; and the timeline app's API at /app/api (assessRoutes.ts).
 *
 * Every page answer carries a strict Content-Security-Policy: scripts, styles and connections from this origin
 * only (no inline script or style; the pages are built without any), no plugins, no <base>, framed by this
 * origin only, no referrer (the SMART redirect carries the authorization code in its query). Hashed bundles are
 * cached for a year as immutable; pages are revalidated on every load, so a rebuild is seen at once.
 *
 * Mount it after the other routes and before the 404 handler: it answers only for files that exist in
 * dist/pages/ and lets everything else through.
 */
import { existsSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import express, { type Response, type Router } from 'express';
import { type AssessRouteOptions, assessRoutes } from './assessRoutes.ts';

export interface PageRouteOptions {
  /** The built pages (default: dist/pages/ at the project root). */
  distDir?: string;
  /** The timeline app's assessment endpoint, POST /app/api/assess. */
  assess: AssessRouteOptions;
  /**
   * Origins the pages may fetch from besides their own: a FHIR server and authorization server elsewhere (an
   * EHR launching the timeline app). The demo's are on this origin, so none by default.
   */
  connectSrc?: readonly string[];
  /** Origins that may frame the pages besides this one (an EHR that embeds SMART apps). */
  frameAncestors?: readonly string[];
  /**
   * Where `/app/launch?patient=<id>` (the dashboard's link to a patient's timeline) goes: an EHR launch with the
   * patient in context. Absent: a standalone launch, the patient chosen at the authorization server's picker.
   */
  launchForPatient?: (patientId: string) => string;
}

export const DEFAULT_PAGES_DIR = new URL('../../dist/pages/', import.meta.url).pathname;

/** The policy every page answer carries. */
export function contentSecurityPolicy(o: Pick<PageRouteOptions, 'connectSrc' | 'frameAncestors'> = {}): string {
  const list = (extra: readonly string[] | undefined) => ["'self'", ...(extra ?? [])].join(' ');
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self'",
    "font-src 'self'",
    `connect-src ${list(o.connectSrc)}`,
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    `frame-ancestors ${list(o.frameAncestors)}`,
  ].join('; ');
}

/** Long-lived caching for Vite's content-hashed bundles (their name changes with their content). */
export const IMMUTABLE = 'public, max-age=31536000, immutable';

export function pageRoutes(o: PageRouteOptions): Router {
  const dist = o.distDir ?? DEFAULT_PAGES_DIR;
  const csp = contentSecurityPolicy(o);
  const router = express.Router();
  const secure = (res: Response) => {
    res.set('Content-Security-Policy', csp);
    res.set('X-Content-Type-Options', 'nosniff');
    res.set('Referrer-Policy', 'no-referrer');
    res.set('Cross-Origin-Opener-Policy', 'same-origin');
  };
  router.use('/app/api', assessRoutes(o.assess));
  // The launch URL without its extension (what an EHR may be configured with): the same page, query kept.
  router.get('/app/launch', (req, res) => {
    const { patient, launch, iss } = req.query;
    if (o.launchForPatient && typeof patient === 'string' && patient && launch === undefined && iss === undefined) {
      res.set('Cache-Control', 'no-store').redirect(303, o.launchForPatient(patient));
      return;
    }
    const q = req.originalUrl.indexOf('?');
    res.redirect(302, `/app/launch.html${q < 0 ? '' : req.originalUrl.slice(q)}`);
  });
  router.use(
    express.static(dist, {
      index: 'index.html',
      redirect: true,
      dotfiles: 'ignore',
      fallthrough: true,
      setHeaders: (res, path) => {
        secure(res as unknown as Response);
        const inAssets = relative(dist, path).split(sep)[0] === 'assets';
        res.setHeader('Cache-Control', inAssets ? IMMUTABLE : 'no-cache');
      },
    }),
  );
  return router;
}

/** Whether the pages have been built (dist/pages/app/index.html exists). */
export const pagesBuilt = (distDir = DEFAULT_PAGES_DIR): boolean => existsSync(join(distDir, 'app', 'index.html'));
