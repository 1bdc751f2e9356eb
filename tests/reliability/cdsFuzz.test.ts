/**
 * Fuzz: mutations of valid CDS Hooks requests (our patient-view and order-sign, the official patient-view example
 * of cds-hooks/examples/official/spec-2.0.1, a feedback body) — wrong types, nulls, huge and deep values, lone
 * surrogates, NUL — sent to the real application over HTTP. Every answer is below 500, every 4xx is an
 * OperationOutcome, and the process keeps serving. Deterministic: fast-check from fixed seeds.
 */
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sandboxDraft } from '../helpers/cdsSandbox.ts';
import { daily, fullPrefetch, myositisPatient } from '../helpers/patients.ts';
import { type App, isOutcome, patientView, startApp } from './harness.ts';

const RUNS = Number(process.env.FUZZ_RUNS ?? 5_000);
const SEEDS = [20260601, 42, 7];
const ID = 'fz';
const records = [...myositisPatient(ID), daily(ID, 1, 40, '2026-01-01', '2026-03-31'), daily(ID, 2, 10, '2026-04-01')];

const official = JSON.parse(
  readFileSync(
    new URL('../../cds-hooks/examples/official/spec-2.0.1/request-patient-view.json', import.meta.url),
    'utf8',
  ),
);
official.fhirServer = 'http://127.0.0.1:9/fhir'; // tests never leave loopback: a closed port

const BASES: Array<{ service: string; feedback?: boolean; body: unknown }> = [
  { service: 'osteonecrosis-screening', body: patientView(ID, { prefetch: fullPrefetch(records, ID) }) },
  { service: 'osteonecrosis-screening', body: official },
  {
    service: 'glucocorticoid-order-sign',
    body: {
      ...patientView(ID, { prefetch: fullPrefetch(records, ID) }),
      hook: 'order-sign',
      context: {
        patientId: ID,
        userId: 'Practitioner/x',
        draftOrders: { resourceType: 'Bundle', entry: [{ resource: sandboxDraft({ patientId: ID }) }] },
      },
    },
  },
  {
    service: 'osteonecrosis-screening',
    feedback: true,
    body: {
      feedback: [
        {
          card: 'c1',
          outcome: 'overridden',
          overrideReason: { reason: { code: 'x' } },
          outcomeTimestamp: '2026-06-01T10:00:00Z',
        },
      ],
    },
  },
];

/** Every path to a value in `v` (objects and arrays included), bounded. */
function pathsOf(v: unknown, max = 4_000): Array<Array<string | number>> {
  const out: Array<Array<string | number>> = [];
  const stack: Array<[unknown, Array<string | number>]> = [[v, []]];
  while (stack.length && out.length < max) {
    const [x, p] = stack.pop()!;
    out.push(p);
    if (Array.isArray(x)) for (const [i, y] of x.entries()) stack.push([y, [...p, i]]);
    else if (x && typeof x === 'object') for (const [k, y] of Object.entries(x)) stack.push([y, [...p, k]]);
  }
  return out;
}

/**
 * Deep values stand in the tree as markers and are spliced into the JSON text at the end: JSON.stringify (and
 * structuredClone) recurse, and a test that overflows its own stack finds nothing.
 */
const deepArray = (n: number): string => `@@deepA:${n}@@`;
const deepObject = (n: number): string => `@@deepO:${n}@@`;
const spliceDeep = (text: string): string =>
  text.replace(/"@@deep([AO]):(\d+)@@"/g, (_m, kind: string, n: string) =>
    kind === 'A'
      ? `${'['.repeat(Number(n))}"x"${']'.repeat(Number(n))}`
      : `${'{"id":'.repeat(Number(n))}{}${'}'.repeat(Number(n))}`,
  );

/** The values a mutation puts somewhere. */
const replacement = fc.oneof(
  fc.constant(null),
  fc.constant(undefined), // deletes the member
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.string(),
  fc.constant([]),
  fc.constant({}),
  fc.constant([null]),
  fc.constant('c\ud800'),
  fc.constant('\udc00'),
  fc.constant('a\u0000b'),
  fc.constant('\u0000'),
  fc.integer({ min: 1, max: 20_000 }).map((n) => 'x'.repeat(n)),
  fc.integer({ min: 2, max: 10_000 }).map(deepArray),
  fc.integer({ min: 2, max: 10_000 }).map(deepObject),
  fc.integer({ min: 1, max: 3_000 }).map((n) => Array.from({ length: n }, (_, i) => i)),
  fc.constant({ resourceType: 'Bundle', entry: 'x' }),
  fc.constant({ resourceType: 'Bundle', entry: [{ resource: null }] }),
  fc.constant({ resourceType: 'Bundle', entry: [{ resource: { resourceType: 'Nope', id: ['a'] } }] }),
  fc.constant({ coding: { code: 1 } }),
  fc.constant(Number.MAX_SAFE_INTEGER),
  fc.constant(-1),
  fc.constant('9999-99-99'),
  fc.constant('Patient/\u0000'),
  fc.constant({ reference: 12 }),
);

interface Case {
  base: number;
  body: string;
  what: string;
}

const caseArb: fc.Arbitrary<Case> = fc
  .record({
    base: fc.integer({ min: 0, max: BASES.length - 1 }),
    picks: fc.array(fc.tuple(fc.nat(), replacement, fc.boolean()), { minLength: 1, maxLength: 3 }),
  })
  .map(({ base, picks }) => {
    const body = structuredClone(BASES[base]!.body) as Record<string, unknown>;
    const what: string[] = [];
    for (const [n, shared, asKey] of picks) {
      // fc.constant hands out one instance: a copy each time, or the tree could come to contain itself
      const value = shared && typeof shared === 'object' ? structuredClone(shared) : shared;
      const paths = pathsOf(body).filter((p) => p.length > 0);
      if (!paths.length) continue;
      const path = paths[n % paths.length]!;
      let parent: any = body;
      for (const k of path.slice(0, -1)) parent = parent?.[k];
      if (!parent || typeof parent !== 'object') continue;
      const last = path[path.length - 1]!;
      if (asKey && !Array.isArray(parent) && typeof value === 'string' && value.length < 50) {
        // a member name mutated instead of its value
        parent[value] = parent[last];
        delete parent[last];
        what.push(`rename ${path.join('.')} → ${JSON.stringify(value)}`);
      } else if (value === undefined && !Array.isArray(parent)) {
        delete parent[last];
        what.push(`delete ${path.join('.')}`);
      } else {
        parent[last] = value;
        const shown = JSON.stringify(value) ?? 'undefined';
        what.push(`${path.join('.')} = ${shown.length > 60 ? `${shown.slice(0, 60)}… (${shown.length})` : shown}`);
      }
    }
    // hookInstance stays unique where it is still a string, so that calls are not replays of one another.
    if (typeof body.hookInstance === 'string' && body.hookInstance.length < 100)
      body.hookInstance = `${body.hookInstance}-${Math.random().toString(36).slice(2)}`;
    return { base, body: spliceDeep(JSON.stringify(body)), what: what.join('; ') };
  });

let app: App;
// Generous: opening the embedded store takes a minute on a loaded 2-core machine.
beforeAll(async () => {
  app = await startApp({ resources: records });
}, 180_000);
afterAll(() => app?.close(), 60_000);

describe('CDS fuzz', () => {
  it(`${RUNS} mutated requests: no 5xx, every 4xx an OperationOutcome, the process alive`, async () => {
    const started = performance.now();
    const perSeed = Math.ceil(RUNS / SEEDS.length);
    const cases = SEEDS.flatMap((seed) => fc.sample(caseArb, { seed, numRuns: perSeed })).slice(0, RUNS);
    const failures: string[] = [];
    const statuses = new Map<number, number>();
    let next = 0;
    const worker = async () => {
      while (next < cases.length) {
        const c = cases[next++]!;
        const base = BASES[c.base]!;
        const r = await (base.feedback ? app.feedback(base.service, c.body) : app.call(base.service, c.body)).catch(
          (err: Error) => ({ status: 0, body: err.message }),
        );
        statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
        if (r.status === 0 || r.status >= 500 || (r.status >= 400 && !isOutcome(r.body)))
          failures.push(`${r.status} ${base.service}${base.feedback ? '/feedback' : ''}: ${c.what}`);
      }
    };
    await Promise.all(Array.from({ length: 4 }, worker));
    const seconds = (performance.now() - started) / 1000;
    console.log(
      `cds fuzz: ${cases.length} requests in ${seconds.toFixed(1)} s; statuses ${JSON.stringify(Object.fromEntries(statuses))}`,
    );
    expect(failures.slice(0, 20)).toEqual([]);
    expect((await fetch(`${app.base}/livez`)).status).toBe(200);
  }, 240_000);
});
