/**
 * Fuzz: mutated findings documents — wrong types, nulls, control characters, lone surrogates, absurd dates, huge
 * and deep values, renamed members, truncated JSON, bytes posted as DICOM — sent by an authenticated caller to
 * the real POST /imaging/findings over HTTP, with the in-memory FHIR server behind it. Every answer is below
 * 500, every 4xx is an OperationOutcome, every refusal leaves exactly one `write-back-refused` audit record, the
 * chain verifies and the process keeps serving. Deterministic: fast-check from fixed seeds.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CdsHarness, startCdsHarness } from '../helpers/cdsSandbox.ts';
import { DOC } from '../helpers/findings.ts';
import { myositisPatient } from '../helpers/patients.ts';

const RUNS = 1_200;
const SEEDS = [20260601, 42, 7];
const TOKEN = 'ingest-token-for-tests-0123';

const BASES: unknown[] = [
  DOC,
  {
    patient: 'Patient/p1',
    studyInstanceUid: '2.25.1',
    studyDate: '2026-05-01',
    reader: { display: 'Dr A' },
    sites: [
      { joint: 'knee', side: 'left', osteonecrosis: true, condyles: ['medial-tibial'], articularSurface: '>50%' },
    ],
  },
  {
    patient: 'Patient/p2',
    studyInstanceUid: '1.2.840.10008.1',
    studyDate: '2025-12-31',
    reader: { display: 'Pipeline v2', reference: 'Device/seg-1' },
    sites: [
      { joint: 'shoulder', side: 'right', osteonecrosis: false },
      { joint: 'calcaneus', side: 'left', osteonecrosis: true, collapse: true },
    ],
  },
];

/** Every path to a value in `v` (objects and arrays included), bounded. */
function pathsOf(v: unknown, max = 500): Array<Array<string | number>> {
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

/** Deep values are spliced into the JSON text at the end (JSON.stringify recurses). */
const spliceDeep = (text: string): string =>
  text.replace(/"@@deep([AO]):(\d+)@@"/g, (_m, kind: string, n: string) =>
    kind === 'A'
      ? `${'['.repeat(Number(n))}"x"${']'.repeat(Number(n))}`
      : `${'{"display":'.repeat(Number(n))}{}${'}'.repeat(Number(n))}`,
  );

/** The values a mutation puts somewhere: wrong types, and the strings and dates no reading can hold. */
const replacement = fc.oneof(
  fc.constant(null),
  fc.constant(undefined), // deletes the member
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.string(),
  fc.string({ unit: 'binary', maxLength: 12 }),
  fc.constant([]),
  fc.constant({}),
  fc.constant([null]),
  fc.constant(''),
  fc.constant('   '),
  fc.constant('\t\n'),
  fc.constant('\u00a0\u2028'),
  fc.constant('a\u0000b'),
  fc.constant('\u0000'),
  fc.constant('Dr \u001b[2J'),
  fc.constant('x\u0085y'),
  fc.constant('c\ud800'),
  fc.constant('\udc00'),
  fc.constant('0000-01-01'),
  fc.constant('1899-12-31'),
  fc.constant('1900-01-01'),
  fc.constant('2026-02-29'),
  fc.constant('9999-12-31'),
  fc.constant('2026-05-20T10:00:00Z'),
  fc.constant('Patient/p1'),
  fc.constant('Patient/nobody'),
  fc.constant('Patient/\u0000'),
  fc.constant('Practitioner/x'),
  fc.constant('2.25.99'),
  fc.constant('hip'),
  fc.constant('right'),
  fc.constant('>2/3'),
  fc.constant(-1),
  fc.constant(101),
  fc.constant(Number.MAX_SAFE_INTEGER),
  fc.integer({ min: 1, max: 20_000 }).map((n) => 'x'.repeat(n)),
  fc.integer({ min: 2, max: 5_000 }).map((n) => `@@deepA:${n}@@`),
  fc.integer({ min: 2, max: 5_000 }).map((n) => `@@deepO:${n}@@`),
  fc.integer({ min: 1, max: 2_000 }).map((n) => Array.from({ length: n }, (_, i) => i)),
  fc.constant({ joint: 'hip', side: 'left', osteonecrosis: true }),
);

interface Case {
  body: string | Uint8Array;
  type: string;
  what: string;
}

const mutated: fc.Arbitrary<Case> = fc
  .record({
    base: fc.integer({ min: 0, max: BASES.length - 1 }),
    picks: fc.array(fc.tuple(fc.nat(), replacement, fc.boolean()), { minLength: 1, maxLength: 3 }),
    uid: fc.nat(),
  })
  .map(({ base, picks, uid }) => {
    const body = structuredClone(BASES[base]) as Record<string, unknown>;
    // A study of its own, so that valid documents do not all queue behind one study's write-backs.
    body.studyInstanceUid = `${body.studyInstanceUid}.${uid}`;
    const what: string[] = [];
    for (const [n, shared, asKey] of picks) {
      const value = shared && typeof shared === 'object' ? structuredClone(shared) : shared;
      const paths = pathsOf(body).filter((p) => p.length > 0);
      if (!paths.length) continue;
      const path = paths[n % paths.length]!;
      let node: unknown = body;
      for (const k of path.slice(0, -1)) node = (node as Record<string | number, unknown> | null)?.[k];
      if (!node || typeof node !== 'object') continue;
      const parent = node as Record<string | number, unknown>;
      const last = path[path.length - 1]!;
      if (asKey && !Array.isArray(parent) && typeof value === 'string' && value.length < 50) {
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
    return { body: spliceDeep(JSON.stringify(body)), type: 'application/json', what: what.join('; ') };
  });

/** Not a document at all: JSON cut short, a JSON value that is no object, bytes posted as DICOM. */
const garbage: fc.Arbitrary<Case> = fc.oneof(
  fc.tuple(fc.integer({ min: 0, max: BASES.length - 1 }), fc.nat()).map(([b, n]) => {
    const text = JSON.stringify(BASES[b]);
    return { body: text.slice(0, n % text.length), type: 'application/json', what: `truncated at ${n % text.length}` };
  }),
  fc
    .jsonValue({ maxDepth: 3 })
    .map((v) => ({ body: JSON.stringify(v) ?? 'null', type: 'application/json', what: 'a random JSON value' })),
  fc
    .uint8Array({ maxLength: 600 })
    .map((bytes) => ({ body: bytes, type: 'application/dicom', what: `${bytes.length} random bytes as DICOM` })),
  fc.uint8Array({ minLength: 4, maxLength: 300 }).map((tail) => {
    // A Part 10 preamble and magic, then noise: the DICOM reader has to refuse it, not crash.
    const bytes = new Uint8Array(132 + tail.length);
    bytes.set([0x44, 0x49, 0x43, 0x4d], 128);
    bytes.set(tail, 132);
    return { body: bytes, type: 'application/dicom', what: `DICM + ${tail.length} random bytes` };
  }),
);

/**
 * Documents that are valid but for whom they name: a patient the server has, another one's study (a small pool of
 * UIDs, so studies collide: 409), a patient it does not know (422) — the write-back's refusals, not the schema's.
 */
const valid: fc.Arbitrary<Case> = fc
  .record({
    patient: fc.constantFrom('Patient/p1', 'Patient/p2', 'Patient/nobody'),
    uid: fc.integer({ min: 1, max: 8 }),
    sites: fc.uniqueArray(
      fc.record({
        joint: fc.constantFrom('hip', 'knee', 'ankle', 'shoulder', 'calcaneus'),
        side: fc.constantFrom('left', 'right'),
        osteonecrosis: fc.boolean(),
      }),
      { minLength: 1, maxLength: 4, selector: (s) => `${s.joint}/${s.side}` },
    ),
    display: fc.string({ minLength: 1, maxLength: 40 }).filter((s) => /^[ -~]*\S[ -~]*$/.test(s)),
  })
  .map(({ patient, uid, sites, display }) => ({
    body: JSON.stringify({
      patient,
      studyInstanceUid: `2.25.777.${uid}`,
      studyDate: '2026-05-20',
      reader: { display },
      sites,
    }),
    type: 'application/json',
    what: `${patient} study ${uid}`,
  }));

const caseArb = fc.oneof(
  { arbitrary: mutated, weight: 16 },
  { arbitrary: garbage, weight: 3 },
  { arbitrary: valid, weight: 1 },
);

let h: CdsHarness;
beforeAll(async () => {
  // dcmjs says what it makes of the random bytes on the console; the answers are what is checked here.
  const { captureThirdPartyLogs, createLogger } = await import('../../src/log/logger.ts');
  const restoreConsole = await captureThirdPartyLogs(createLogger('silent'));
  restoreConsole(); // dcmjs stays quiet; the console is the test's again
  h = await startCdsHarness({
    now: '2026-06-01T10:00:00Z',
    ingestToken: TOKEN,
    resources: [...myositisPatient('p1'), ...myositisPatient('p2')],
  });
}, 120_000);
afterAll(() => h?.close(), 60_000);

const isOutcome = (body: unknown): boolean => {
  const b = body as { resourceType?: unknown; issue?: unknown } | null;
  return b?.resourceType === 'OperationOutcome' && Array.isArray(b.issue) && b.issue.length > 0;
};

describe('findings fuzz', () => {
  it(`${RUNS} mutated documents: no 5xx, every 4xx an OperationOutcome and an audited refusal`, async () => {
    const started = performance.now();
    const perSeed = Math.ceil(RUNS / SEEDS.length);
    const cases = SEEDS.flatMap((seed) => fc.sample(caseArb, { seed, numRuns: perSeed })).slice(0, RUNS);
    expect(cases.length).toBeGreaterThanOrEqual(1_000);
    const failures: string[] = [];
    const statuses = new Map<number, number>();
    let refused = 0;
    let next = 0;
    const worker = async () => {
      while (next < cases.length) {
        const c = cases[next++]!;
        const r = await fetch(`${h.base}/imaging/findings`, {
          method: 'POST',
          headers: { 'content-type': c.type, authorization: `Bearer ${TOKEN}` },
          body: c.body,
        })
          .then(async (res) => {
            const text = await res.text();
            let body: unknown;
            try {
              body = JSON.parse(text);
            } catch {
              body = text;
            }
            return { status: res.status, body };
          })
          .catch((err: Error) => ({ status: 0, body: err.message }));
        statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
        if (r.status >= 400 && r.status < 500) refused++;
        if (r.status === 0 || r.status >= 500 || (r.status >= 400 && !isOutcome(r.body)))
          failures.push(`${r.status} ${c.what}: ${JSON.stringify(r.body).slice(0, 200)}`);
      }
    };
    await Promise.all(Array.from({ length: 4 }, worker));
    const seconds = (performance.now() - started) / 1000;
    console.log(
      `findings fuzz: ${cases.length} requests in ${seconds.toFixed(1)} s; statuses ${JSON.stringify(Object.fromEntries(statuses))}`,
    );
    expect(failures.slice(0, 20)).toEqual([]);
    // Most are refused, and some get through: the fuzz reaches both the validation and the write-back.
    expect(refused).toBeGreaterThan(cases.length / 2);
    expect((statuses.get(201) ?? 0) + (statuses.get(200) ?? 0)).toBeGreaterThan(0);
    expect(statuses.get(409) ?? 0).toBeGreaterThan(0);
    expect(statuses.get(422) ?? 0).toBeGreaterThan(0);
    const records = await h.store.db.query<{ n: number }>(
      `select count(*)::int as n from audit_log where kind = 'write-back-refused'`,
    );
    expect(records[0]!.n).toBe(refused);
    expect(await h.store.audit.verify()).toMatchObject({ ok: true });
    expect((await fetch(`${h.base}/livez`)).status).toBe(200);
  }, 120_000);
});
