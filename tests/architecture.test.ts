/**
 * The house rules, checked rather than remembered: a pure domain core at the bottom (no I/O, no clock, no
 * framework), adapters above it, data flowing one way, and no import cycles. A violation names the file and
 * the import.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = resolve(new URL('../src', import.meta.url).pathname);

/** Folders of src/ by layer: a module may import its own folder and lower layers only. */
const LAYERS: ReadonlyArray<readonly string[]> = [
  ['terminology', 'types', 'errors.ts'],
  ['exposure'],
  ['screening', 'cohort'],
  ['fhir', 'log', 'config', 'metrics', 'store', 'profiles', 'auth', 'threads'],
  ['audit', 'imaging'],
  ['cdsHooks', 'demo'],
  ['surveillance'],
  ['server', 'cli', 'pages'],
  ['main.ts'],
];
const DOMAIN = ['terminology', 'errors.ts', 'exposure', 'screening', 'cohort'];
/** Packages the domain may use: validation, unit arithmetic, FHIR types. Nothing that does I/O. */
const DOMAIN_PACKAGES = ['zod', '@lhncbc/ucum-lhc', '@medplum/fhirtypes'];

interface Import {
  from: string;
  spec: string;
  typeOnly: boolean;
}

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') && !p.endsWith('.d.ts') ? [p] : [];
  });
}

function importsOf(file: string): Import[] {
  const text = readFileSync(file, 'utf8');
  const out: Import[] = [];
  for (const m of text.matchAll(/^(import|export)(\s+type)?\s[^;]*?\sfrom\s+'([^']+)'/gms))
    out.push({ from: file, spec: m[3]!, typeOnly: !!m[2] });
  for (const m of text.matchAll(/^import\s+'([^']+)'/gm)) out.push({ from: file, spec: m[1]!, typeOnly: false });
  for (const m of text.matchAll(/\bimport\(\s*'([^']+)'\s*\)/g)) out.push({ from: file, spec: m[1]!, typeOnly: false });
  return out;
}

const folderOf = (file: string) => relative(SRC, file).split('/')[0]!;
const layerOf = (folder: string) => LAYERS.findIndex((l) => l.includes(folder));
const all = files(SRC);
const imports = all.flatMap(importsOf);
const local = (i: Import) => (i.spec.startsWith('.') ? resolve(dirname(i.from), i.spec) : undefined);
const rel = (f: string) => relative(SRC, f);

describe('architecture', () => {
  it('every folder of src/ has a layer', () => {
    expect([...new Set(all.map(folderOf))].filter((f) => layerOf(f) < 0)).toEqual([]);
  });

  it('imports run downward only: a module imports its own folder or a lower layer', () => {
    const upward = imports.flatMap((i) => {
      const target = local(i);
      if (!target) return [];
      const [a, b] = [folderOf(i.from), folderOf(target)];
      return a !== b && layerOf(b) > layerOf(a) ? [`${rel(i.from)} → ${rel(target)}`] : [];
    });
    expect(upward).toEqual([]);
  });

  it('the domain core imports no I/O: no node:*, no framework, no store, only its allowed packages', () => {
    const bad = imports.flatMap((i) => {
      if (!DOMAIN.includes(folderOf(i.from))) return [];
      const target = local(i);
      if (target) return DOMAIN.includes(folderOf(target)) ? [] : [`${rel(i.from)} → ${rel(target)}`];
      const pkg = i.spec.startsWith('@') ? i.spec.split('/').slice(0, 2).join('/') : i.spec.split('/')[0]!;
      return DOMAIN_PACKAGES.includes(pkg) ? [] : [`${rel(i.from)} → ${i.spec}`];
    });
    expect(bad).toEqual([]);
  });

  it('terminology imports nothing of ours', () => {
    expect(
      imports
        .filter((i) => folderOf(i.from) === 'terminology' && local(i) && folderOf(local(i)!) !== 'terminology')
        .map((i) => `${rel(i.from)} → ${i.spec}`),
    ).toEqual([]);
  });

  it('src/ has no import cycle', () => {
    const graph = new Map<string, string[]>();
    for (const i of imports) {
      const t = local(i);
      if (t) graph.set(i.from, [...(graph.get(i.from) ?? []), t]);
    }
    const state = new Map<string, 'open' | 'done'>();
    const cycles: string[] = [];
    const visit = (f: string, path: string[]) => {
      if (state.get(f) === 'done') return;
      if (state.get(f) === 'open') {
        cycles.push([...path.slice(path.indexOf(f)), f].map(rel).join(' → '));
        return;
      }
      state.set(f, 'open');
      for (const t of graph.get(f) ?? []) visit(t, [...path, f]);
      state.set(f, 'done');
    };
    for (const f of all) visit(f, []);
    expect(cycles).toEqual([]);
  });
});
