/**
 * Audit store benchmark: a generated audit log of BENCH_AUDIT_ROWS rows (default one million) in PostgreSQL
 * (DATABASE_URL, own schema) or PGlite, then the auditors' queries timed on it.
 */
import { randomUUID } from 'node:crypto';
import { chainHash, GENESIS_HASH } from '../src/audit/chain.ts';
import { auditRows, cardResponses, patientHistory, thresholdCrossings } from '../src/audit/queries.ts';
import { type AuditStore, openAuditStore } from '../src/audit/store.ts';
import { Random } from '../src/cohort/random.ts';
import { isoFromDay } from '../src/exposure/dates.ts';

const ROWS = Number(process.env.BENCH_AUDIT_ROWS ?? 1_000_000);
const PATIENTS = Math.max(100, Math.round(ROWS / 20));
const BATCH = 5000;
const START_DAY = 20089; // 2025-01-01
const SPAN_DAYS = 700;
const SERVICES = ['osteonecrosis-screening', 'glucocorticoid-order-select', 'glucocorticoid-order-sign'];

interface Batch {
  log: unknown[][];
  hook: unknown[][];
  card: unknown[][];
  snap: unknown[][];
  cross: unknown[][];
  fb: unknown[][];
  wb: unknown[][];
  mri: unknown[][];
}

const columns = (rows: unknown[][], n: number) => Array.from({ length: n }, (_, i) => rows.map((r) => r[i]));

async function flush(store: AuditStore, b: Batch): Promise<void> {
  await store.db.transaction(async (tx) => {
    if (b.log.length)
      await tx.query(
        `insert into audit_log (seq, recorded_at, recorded_iso, kind, patient_id, tenant, actor, payload, prev_hash, hash)
         select s, r::timestamptz, r, k, p, null, a, j::jsonb, ph, h from unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[]) as t(s, r, k, p, a, j, ph, h)`,
        columns(b.log, 8),
      );
    if (b.hook.length)
      await tx.query(
        `insert into hook_invocation (seq, recorded_at, service, hook, hook_instance, patient_id, user_ref, latency_ms)
         select s, r::timestamptz, sv, hk, hi, p, u, l from unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::float8[]) as t(s, r, sv, hk, hi, p, u, l)`,
        columns(b.hook, 8),
      );
    if (b.card.length)
      await tx.query(
        `insert into card (card_uuid, invocation_seq, service, patient_id, indicator, summary, recorded_at)
         select c, s, sv, p, i, sm, r::timestamptz from unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[]) as t(c, s, sv, p, i, sm, r)`,
        columns(b.card, 7),
      );
    if (b.snap.length)
      await tx.query(
        `insert into exposure_snapshot (seq, patient_id, as_of, cumulative_mg, lower_bound, current_daily_mg, threshold_mg, crossed_on, recorded_at)
         select s, p, a::date, c, false, d, 3000, x::date, r::timestamptz from unnest($1::bigint[], $2::text[], $3::text[], $4::float8[], $5::float8[], $6::text[], $7::text[]) as t(s, p, a, c, d, x, r)`,
        columns(b.snap, 7),
      );
    if (b.cross.length)
      await tx.query(
        `insert into threshold_crossing (patient_id, threshold_mg, crossed_on, first_seen_seq)
         select p, 3000, x::date, s from unnest($1::text[], $2::text[], $3::bigint[]) as t(p, x, s) on conflict do nothing`,
        columns(b.cross, 3),
      );
    if (b.fb.length)
      await tx.query(
        `insert into card_feedback (seq, card_uuid, service, outcome, override_code, override_display, outcome_at, recorded_at)
         select s, c, sv, o, oc, od, r::timestamptz, r::timestamptz from unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[]) as t(s, c, sv, o, oc, od, r)`,
        columns(b.fb, 7),
      );
    if (b.wb.length)
      await tx.query(
        `insert into write_back (seq, patient_id, study_uid, study_date, resource_refs, recorded_at)
         select s, p, u, d::date, array[rr], r::timestamptz from unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[]) as t(s, p, u, d, rr, r)`,
        columns(b.wb, 6),
      );
    if (b.mri.length)
      await tx.query(
        `insert into wbmri_study (patient_id, study_date, source, seq) select p, d::date, 'write-back', s from unnest($1::text[], $2::text[], $3::bigint[]) as t(p, d, s) on conflict do nothing`,
        columns(b.mri, 3),
      );
  });
}

async function generate(store: AuditStore): Promise<void> {
  const rnd = new Random(11);
  const crossing = new Map<number, number>();
  for (let p = 0; p < PATIENTS; p++) if (rnd.chance(0.6)) crossing.set(p, START_DAY + rnd.int(0, SPAN_DAYS));
  const cards: Array<{ uuid: string; service: string; patient: number }> = [];
  let prev = GENESIS_HASH;
  let b: Batch = { log: [], hook: [], card: [], snap: [], cross: [], fb: [], wb: [], mri: [] };
  const started = Date.now();
  for (let seq = 1; seq <= ROWS; seq++) {
    const day = START_DAY + Math.floor(((seq - 1) / ROWS) * SPAN_DAYS);
    const recordedAt = `${isoFromDay(day)}T${String(8 + (seq % 10)).padStart(2, '0')}:00:00.000Z`;
    const p = rnd.int(0, PATIENTS - 1);
    const patientId = `p${p}`;
    const roll = rnd.next();
    let kind: string;
    let payload: Record<string, unknown>;
    let actor: string | null = null;
    let pid: string | null = patientId;
    if (roll < 0.7 || cards.length === 0) {
      kind = 'hook-invocation';
      const service = SERVICES[seq % 3]!;
      const uuid = randomUUID();
      const crossedDay = crossing.get(p);
      const crossedOn = crossedDay !== undefined && crossedDay <= day ? isoFromDay(crossedDay) : null;
      const cumulative = crossedOn ? 3000 + (day - crossedDay!) * 10 : 1000 + rnd.int(0, 1900);
      actor = `Practitioner/dr-${p % 50}`;
      payload = {
        service,
        hook: service === SERVICES[0] ? 'patient-view' : service.endsWith('select') ? 'order-select' : 'order-sign',
        hookInstance: randomUUID(),
        userRef: actor,
        latencyMs: 5,
        cards: [{ uuid, indicator: crossedOn ? 'warning' : 'info', summary: `Cumulative ${cumulative} mg` }],
        exposure: {
          asOf: isoFromDay(day),
          cumulativeMg: cumulative,
          cumulativeIsLowerBound: false,
          currentDailyMg: 10,
          threshold: { mg: 3000, crossedOn, projectedOn: null },
          contributions: [{ source: `MedicationStatement/${p}-1`, ingredient: 'prednisolone', mg: cumulative }],
          issues: [],
        },
      };
      b.hook.push([seq, recordedAt, service, payload.hook, payload.hookInstance, patientId, actor, 5]);
      b.card.push([
        uuid,
        seq,
        service,
        patientId,
        crossedOn ? 'warning' : 'info',
        `Cumulative ${cumulative} mg`,
        recordedAt,
      ]);
      b.snap.push([seq, patientId, isoFromDay(day), cumulative, 10, crossedOn, recordedAt]);
      if (crossedOn) b.cross.push([patientId, crossedOn, seq]);
      cards.push({ uuid, service, patient: p });
    } else if (roll < 0.85) {
      kind = 'card-feedback';
      const c = cards.splice(rnd.int(0, cards.length - 1), 1)[0]!;
      pid = `p${c.patient}`;
      const accepted = rnd.chance(0.6);
      payload = {
        service: c.service,
        card: c.uuid,
        knownCard: true,
        outcome: accepted ? 'accepted' : 'overridden',
        outcomeTimestamp: recordedAt,
        overrideReason: accepted ? undefined : { reason: { code: 'declined', display: 'Patient declined' } },
      };
      b.fb.push([
        seq,
        c.uuid,
        c.service,
        accepted ? 'accepted' : 'overridden',
        accepted ? null : 'declined',
        accepted ? null : 'Patient declined',
        recordedAt,
      ]);
    } else if (roll < 0.95) {
      kind = 'audit-query';
      actor = 'static-token';
      payload = { query: 'patient history' };
    } else {
      kind = 'write-back';
      const uid = `2.25.${seq}`;
      payload = { studyUid: uid, studyDate: isoFromDay(day), resourceRefs: [`Observation/${seq}`] };
      b.wb.push([seq, patientId, uid, isoFromDay(day), `Observation/${seq}`, recordedAt]);
      b.mri.push([patientId, isoFromDay(day), seq]);
    }
    const plain = JSON.parse(JSON.stringify(payload));
    const hash = chainHash(prev, { seq, recordedAt, kind, patientId: pid, tenant: null, actor, payload: plain });
    b.log.push([seq, recordedAt, kind, pid, actor, JSON.stringify(plain), prev, hash]);
    prev = hash;
    if (b.log.length >= BATCH) {
      // Parents before children: the log rows of this batch go in first within the same transaction.
      await flush(store, b);
      b = { log: [], hook: [], card: [], snap: [], cross: [], fb: [], wb: [], mri: [] };
      if (seq % 100_000 === 0)
        console.log(`  … ${seq.toLocaleString('en-US')} rows (${((Date.now() - started) / 1000).toFixed(0)} s)`);
    }
  }
  await flush(store, b);
  await store.db.exec('analyze');
  console.log(
    `  generated ${ROWS.toLocaleString('en-US')} audit rows for ${PATIENTS.toLocaleString('en-US')} patients in ${((Date.now() - started) / 1000).toFixed(1)} s`,
  );
}

async function time<T>(label: string, runs: number, fn: (i: number) => Promise<T>): Promise<void> {
  await fn(0);
  const ms: number[] = [];
  for (let i = 1; i <= runs; i++) {
    const t = performance.now();
    await fn(i);
    ms.push(performance.now() - t);
  }
  ms.sort((a, b) => a - b);
  const p = (q: number) => ms[Math.min(ms.length - 1, Math.floor(q * ms.length))]!.toFixed(1);
  console.log(`  ${label.padEnd(58)} p50 ${p(0.5).padStart(7)} ms   p95 ${p(0.95).padStart(7)} ms   (${runs} runs)`);
}

export async function runAuditBench(): Promise<void> {
  const url = process.env.DATABASE_URL;
  const schema = `ow_bench_${Date.now().toString(36)}`;
  const store = await openAuditStore(url ? { databaseUrl: url, schema } : { memory: true });
  console.log(
    `\nAudit store (${store.db.kind}${url ? `, schema ${schema}` : ', in memory'}), ${ROWS.toLocaleString('en-US')} rows`,
  );
  try {
    await generate(store);
    const rnd = new Random(5);
    const month = (i: number) => {
      const d = START_DAY + ((i * 37) % (SPAN_DAYS - 31));
      return { from: isoFromDay(d), to: isoFromDay(d + 30) };
    };
    await time('patient history (50 invocations + snapshots)', 30, () =>
      patientHistory(store.db, `p${rnd.int(0, PATIENTS - 1)}`, { limit: 50 }),
    );
    await time('threshold crossings, 1-month window, page of 100 + summary', 15, (i) =>
      thresholdCrossings(store.db, { ...month(i), thresholdMg: 3000, limit: 100 }),
    );
    await time('cards & responses, 1-month window, one service, page of 100', 15, (i) =>
      cardResponses(store.db, { ...month(i), service: SERVICES[i % 3]!, limit: 100 }),
    );
    await time('AuditEvent export page (1,000 rows)', 15, (i) => auditRows(store.db, { ...month(i), limit: 1000 }));
    await time('append one hook invocation (chained)', 50, (i) =>
      store.audit.recordHookInvocation({
        recordedAt: new Date(Date.UTC(2026, 10, 1, 0, 0, i)).toISOString(),
        service: SERVICES[0]!,
        hook: 'patient-view',
        hookInstance: randomUUID(),
        patientId: 'p1',
        cards: [{ uuid: randomUUID(), indicator: 'info', summary: 'bench' }],
      }),
    );
    const t = performance.now();
    const v = await store.audit.verify(10_000);
    const s = (performance.now() - t) / 1000;
    console.log(
      `  verify the whole chain: ${v.ok ? 'intact' : 'BROKEN'}, ${v.checked.toLocaleString('en-US')} records in ${s.toFixed(1)} s (${Math.round(v.checked / s).toLocaleString('en-US')} records/s)`,
    );
  } finally {
    if (url) await store.db.exec(`drop schema ${schema} cascade`);
    await store.close();
  }
}
