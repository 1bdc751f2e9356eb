/**
 * Vitest global setup: the clinician pages are built (scripts/build-pages.ts, Vite) before any test runs, unless
 * dist/pages/ is already newer than every source — the page tests and the server's static routes need them.
 */
import { buildPages } from '../../scripts/build-pages.ts';

export default async function setup(): Promise<void> {
  const r = await buildPages({ quiet: true });
  if (r.built) process.stdout.write(`pages built for the tests in ${r.ms} ms\n`);
}
