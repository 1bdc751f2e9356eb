/**
 * `npm run build:pages` (and `npm start`'s prestart, and `npm ci`'s prepare): builds the clinician pages with
 * Vite (vite.config.ts: every src/pages/<name>/*.html) into dist/pages/. Skipped when dist/pages/ was built
 * after the last change to any of its sources (src/, whose modules the pages import, vite.config.ts, this script,
 * the lock file), so that starting the demo stays fast; `--force` builds anyway.
 *
 * The build is written beside dist/pages/ and moved into place when complete, so that a running server (or a
 * concurrent test run) never serves half a build.
 */
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
export const PAGES_SRC = join(ROOT, 'src', 'pages');
export const PAGES_DIST = join(ROOT, 'dist', 'pages');
/** Written last by a complete build; its time is the build's. */
const STAMP = '.built';

/** The newest modification time under `path` (files and folders: an added or removed file changes its folder). */
function newest(path: string): number {
  if (!existsSync(path)) return 0;
  const s = statSync(path);
  if (!s.isDirectory()) return s.mtimeMs;
  let t = s.mtimeMs;
  for (const name of readdirSync(path)) t = Math.max(t, newest(join(path, name)));
  return t;
}

/**
 * The sources a build depends on. All of src/, not only src/pages/: the pages import domain modules (the
 * exposure's wording, the surveillance API's types, the OperationOutcome reader), and a change there must not
 * leave `npm start` serving a stale bundle.
 */
const SOURCES = [
  join(ROOT, 'src'),
  join(ROOT, 'vite.config.ts'),
  join(ROOT, 'scripts', 'build-pages.ts'),
  join(ROOT, 'package-lock.json'),
];

/** Whether dist/pages/ is at least as new as every source. */
export function pagesUpToDate(): boolean {
  const stamp = join(PAGES_DIST, STAMP);
  if (!existsSync(stamp)) return false;
  const built = statSync(stamp).mtimeMs;
  return SOURCES.every((s) => newest(s) <= built);
}

export interface BuildResult {
  built: boolean;
  ms: number;
  outDir: string;
}

/** Builds the pages unless they are up to date (or `force`). */
export async function buildPages(o: { force?: boolean; quiet?: boolean } = {}): Promise<BuildResult> {
  const started = Date.now();
  if (!o.force && pagesUpToDate()) return { built: false, ms: Date.now() - started, outDir: PAGES_DIST };
  const { build } = await import('vite');
  const tmp = `${PAGES_DIST}.tmp-${process.pid}-${Date.now()}`;
  mkdirSync(dirname(PAGES_DIST), { recursive: true });
  try {
    await build({
      configFile: join(ROOT, 'vite.config.ts'),
      logLevel: o.quiet ? 'error' : 'warn',
      build: { outDir: tmp, emptyOutDir: true },
    });
    writeFileSync(join(tmp, STAMP), `${new Date().toISOString()}\n`);
    // Swapped in whole: the old build is moved aside first (a folder cannot be renamed over a non-empty one).
    // A concurrent build (a test run beside `npm start`) may have swapped its own in meanwhile: either is whole.
    const old = `${PAGES_DIST}.old-${process.pid}-${Date.now()}`;
    try {
      if (existsSync(PAGES_DIST)) renameSync(PAGES_DIST, old);
      renameSync(tmp, PAGES_DIST);
    } catch (err) {
      if (!existsSync(join(PAGES_DIST, STAMP))) throw err;
    }
    rmSync(old, { recursive: true, force: true });
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return { built: true, ms: Date.now() - started, outDir: PAGES_DIST };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const force = process.argv.includes('--force');
  buildPages({ force })
    .then((r) => {
      process.stdout.write(r.built ? `pages built in ${r.ms} ms: ${r.outDir}\n` : `pages up to date: ${r.outDir}\n`);
    })
    .catch((err: unknown) => {
      process.stderr.write(`build-pages: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    });
}
