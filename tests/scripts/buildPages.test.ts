/**
 * `npm start` rebuilds the pages only when a source changed: the sources include the modules outside src/pages/
 * that the pages import (a change to the exposure's wording once left a stale bundle served).
 */
import { statSync, utimesSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { pagesUpToDate } from '../../scripts/build-pages.ts';

const imported = fileURLToPath(new URL('../../src/exposure/format.ts', import.meta.url));
const { atime, mtime } = statSync(imported);

describe('build-pages', () => {
  afterEach(() => utimesSync(imported, atime, mtime));

  it('is up to date after the build, and not once a module the pages import changes', () => {
    expect(pagesUpToDate()).toBe(true);
    const later = new Date(Date.now() + 60_000);
    utimesSync(imported, later, later);
    expect(pagesUpToDate()).toBe(false);
  });
});
