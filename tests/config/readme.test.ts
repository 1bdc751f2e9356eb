/**
 * The README's configuration table lists every environment variable the code reads, and nothing else: a new
 * variable without a row, or a row for a variable nobody reads, fails here.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = new URL('../../', import.meta.url).pathname;

function sources(dir: string): string[] {
  return readdirSync(join(root, dir)).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(join(root, path)).isDirectory()) return sources(path);
    return /\.(ts|js)$/.test(name) ? [path] : [];
  });
}

/** Names read through the zod environment schema, commander's `.env('X')`, or `process.env.X`. */
function variablesReadBy(files: string[]): Set<string> {
  const names = new Set<string>();
  for (const file of files) {
    const text = readFileSync(join(root, file), 'utf8');
    for (const m of text.matchAll(/\.env\('([A-Z][A-Z0-9_]+)'\)/g)) names.add(m[1]!);
    for (const m of text.matchAll(/process\.env\.([A-Z][A-Z0-9_]+)/g)) names.add(m[1]!);
    for (const m of text.matchAll(/process\.env\[['"]([A-Z][A-Z0-9_]+)['"]\]/g)) names.add(m[1]!);
    if (/config\/[a-zA-Z]+\.ts$/.test(file))
      for (const m of text.matchAll(/^ {2}([A-Z][A-Z0-9_]+): (?:z\b|int\(|originList\(|ianaTimeZone\()/gm))
        names.add(m[1]!);
  }
  return names;
}

const readme = readFileSync(join(root, 'README.md'), 'utf8');
const section = readme.slice(
  readme.indexOf('## Configuration'),
  readme.indexOf('\n## ', readme.indexOf('## Configuration') + 3),
);
const tableRows = new Set([...section.matchAll(/^\| `([A-Z][A-Z0-9_]+)` \|/gm)].map((m) => m[1]!));
const documented = new Set([...section.matchAll(/`([A-Z][A-Z0-9_]+)`/g)].map((m) => m[1]!));

describe('README configuration table', () => {
  it('has a row for every variable the service and the CLI read', () => {
    const read = variablesReadBy([...sources('src'), ...sources('bin')]);
    expect(read.size).toBeGreaterThan(15);
    expect([...read].filter((v) => !tableRows.has(v)).sort()).toEqual([]);
  });

  it('names every variable the tests and benchmarks read', () => {
    const read = variablesReadBy([...sources('tests'), ...sources('bench')]);
    expect([...read].filter((v) => !documented.has(v)).sort()).toEqual([]);
  });

  it('has no row for a variable nobody reads', () => {
    const read = variablesReadBy([...sources('src'), ...sources('bin')]);
    expect([...tableRows].filter((v) => !read.has(v)).sort()).toEqual([]);
  });
});
