/**
 * Endurance: the real service (`node src/main.ts`, audit trail on) under a steady CDS Hooks patient-view load
 * (autocannon, BENCH_ENDURANCE_CONNECTIONS connections for BENCH_ENDURANCE_SECONDS), the same 80 kB prefetched
 * request as bench/cds.ts with a fresh hookInstance and client JWT per call. Prints errors (non-2xx, socket
 * errors), p50/p99 latency, throughput, the audit lag at the end (/metrics osteowatch_audit_queue_depth, and
 * after a graceful stop the rows in hook_invocation against the calls answered 2xx), and the server's RSS at
 * start, at the end and BENCH_ENDURANCE_IDLE_SECONDS after the end. Runnable alone: `node bench/endurance.ts`.
 * With DATABASE_URL the store is a scratch PostgreSQL database (created and dropped); otherwise PGlite.
 */
import { createPrivateKey, randomUUID, sign } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { openAuditStore } from '../src/audit/store.ts';
import { DEMO_CLIENT_ISS, readDemoClientKey } from '../src/cdsHooks/demoClient.ts';
import { scratchDatabase, startService, stopGracefully } from '../tests/reliability/service.ts';
import { taperRequest } from './cdsRequest.ts';

const SECONDS = Number(process.env.BENCH_ENDURANCE_SECONDS ?? 60);
const CONNECTIONS = Number(process.env.BENCH_ENDURANCE_CONNECTIONS ?? 10);
const IDLE_SECONDS = Number(process.env.BENCH_ENDURANCE_IDLE_SECONDS ?? 60);
const PG = process.env.DATABASE_URL;

const rssMb = (pid: number): number => {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : Number.NaN;
};
const b64 = (x: string | Buffer) => Buffer.from(x).toString('base64url');

export async function runEnduranceBench(): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'ow-endurance-'));
  const db = PG ? await scratchDatabase(PG, 'ow_endurance_') : undefined;
  const service = await startService(dataDir, {
    databaseUrl: db?.url,
    env: { OSTEOWATCH_COHORT_SIZE: '10', LOG_LEVEL: 'error' },
  });
  const pid = service.child.pid!;
  try {
    const endpoint = `${service.url}/cds-services/osteonecrosis-screening`;
    // The demo client (trusted by the demo service): a JWT per call, signed synchronously in the load generator.
    const key = readDemoClientKey(dataDir)!;
    const pk = createPrivateKey({ key: key.privateJwk as never, format: 'jwk' });
    const header = b64(JSON.stringify({ alg: 'ES384', typ: 'JWT', kid: key.privateJwk.kid }));
    const jwt = () => {
      const now = Math.floor(Date.now() / 1000);
      const payload = b64(
        JSON.stringify({ iss: DEMO_CLIENT_ISS, aud: endpoint, iat: now, exp: now + 300, jti: randomUUID() }),
      );
      const sig = sign('sha384', Buffer.from(`${header}.${payload}`), { key: pk, dsaEncoding: 'ieee-p1363' });
      return `${header}.${payload}.${b64(sig)}`;
    };
    const request = taperRequest(60);
    const template = JSON.stringify(request);
    const fixed = String(request.hookInstance);
    const metric = async () =>
      Number(/osteowatch_audit_queue_depth (\d+)/.exec(await (await fetch(`${service.url}/metrics`)).text())?.[1]);

    const rssStart = rssMb(pid);
    console.log(
      `\nEndurance: CDS Hooks patient-view against node src/main.ts (audit on, ${db ? 'PostgreSQL' : 'PGlite'}), ${CONNECTIONS} connections for ${SECONDS} s (autocannon), ${(template.length / 1024).toFixed(1)} kB body`,
    );
    const result = await autocannon({
      url: endpoint,
      connections: CONNECTIONS,
      duration: SECONDS,
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      requests: [
        {
          setupRequest: (req) => ({
            ...req,
            body: template.replace(fixed, randomUUID()),
            headers: { ...req.headers, authorization: `Bearer ${jwt()}` },
          }),
        },
      ],
    });
    const depthAtEnd = await metric();
    const rssEnd = rssMb(pid);
    const ok = result['2xx'];
    console.log(
      `  ${result.requests.total.toLocaleString('en-US')} requests, ${ok.toLocaleString('en-US')} answered 2xx; errors: ${result.non2xx} non-2xx, ${result.errors} socket errors, ${result.timeouts} timeouts`,
    );
    console.log(
      `  latency p50 ${result.latency.p50.toFixed(1)} ms, p99 ${result.latency.p99.toFixed(1)} ms; throughput ${result.requests.average.toFixed(0)} req/s (${(result.throughput.average / 1e6).toFixed(1)} MB/s)`,
    );
    console.log(
      `  audit lag at the end: ${depthAtEnd} records answered but not yet stored (osteowatch_audit_queue_depth)`,
    );
    console.log(`  waiting ${IDLE_SECONDS} s idle…`);
    await new Promise((r) => setTimeout(r, IDLE_SECONDS * 1000));
    const rssIdle = rssMb(pid);
    const depthIdle = await metric();
    console.log(
      `  server RSS: ${rssStart.toFixed(0)} MB at start, ${rssEnd.toFixed(0)} MB at the end, ${rssIdle.toFixed(0)} MB ${IDLE_SECONDS} s after (audit queue then ${depthIdle})`,
    );
    const code = await stopGracefully(service);
    const store = await openAuditStore(db ? { databaseUrl: db.url } : { dataDir, inProcess: true });
    try {
      const [row] = await store.db.query<{ n: number }>('select count(*)::int as n from hook_invocation');
      console.log(
        `  after a graceful stop (exit ${code}): ${row!.n.toLocaleString('en-US')} hook records in the trail for ${ok.toLocaleString('en-US')} calls answered 2xx (${Math.max(0, ok - row!.n)} missing; more rows than 2xx are the calls in flight when autocannon stopped counting)`,
      );
    } finally {
      await store.close();
    }
  } finally {
    if (service.child.exitCode === null) service.child.kill('SIGKILL');
    await db?.drop().catch(() => undefined);
    rmSync(dataDir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await runEnduranceBench();
