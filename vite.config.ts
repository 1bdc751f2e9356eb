/**
 * The clinician pages, built by Vite (scripts/build-pages.ts runs this; `npm start` builds them first): every
 * src/pages/<name>/*.html is an entry, so a new folder there is a new page at /<name>/ with nothing to register.
 * Output in dist/pages/<name>/, shared content-hashed bundles in dist/pages/assets/, served by
 * src/server/pageRoutes.ts. No inline script or style is emitted (the pages' Content-Security-Policy forbids
 * them), and nothing is fetched at run time from anywhere but the service itself.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { defineConfig } from 'vite';

const ROOT = join(import.meta.dirname, 'src', 'pages');
export const OUT_DIR = join(import.meta.dirname, 'dist', 'pages');

/** Every src/pages/<name>/<page>.html, keyed "<name>/<page>". */
export function pageInputs(root = ROOT): Record<string, string> {
  const inputs: Record<string, string> = {};
  if (!existsSync(root)) return inputs;
  for (const name of readdirSync(root).sort()) {
    const dir = join(root, name);
    if (!statSync(dir).isDirectory()) continue;
    for (const file of readdirSync(dir).sort())
      if (file.endsWith('.html')) inputs[`${name}/${file.slice(0, -'.html'.length)}`] = join(dir, file);
  }
  return inputs;
}

export default defineConfig({
  root: ROOT,
  base: '/',
  publicDir: false,
  logLevel: 'warn',
  // fhirclient's browser entry polyfills fetch and AbortController unless told the browser has them.
  define: { FHIRCLIENT_PURE: 'true' },
  // …and reaches for a Web Crypto shim only where the browser has none: every browser that runs the app has it.
  resolve: { alias: { 'isomorphic-webcrypto': join(ROOT, 'app', 'webcrypto.ts') } },
  build: {
    outDir: OUT_DIR,
    emptyOutDir: true,
    target: 'es2022',
    assetsDir: 'assets',
    // Nothing inlined as a data: URL (the policy allows images from this origin only).
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    reportCompressedSize: false,
    rolldownOptions: { input: pageInputs() },
  },
});
