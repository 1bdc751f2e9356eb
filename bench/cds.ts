/**
 * CDS Hooks benchmark: patient-view with a 60-statement prefetch (about 80 kB) at 1 and 10 connections,
 * beside a plain Express endpoint that only parses the same body, in the same run (autocannon).
 * Targets (issue 4): ≥ 70 % of the plain endpoint's throughput; p99 under 10 ms at one connection.
 * Also printed: the server's CPU per request by thread (Linux), and what one client-signature check costs
 * on this CPU — the two figures that say where a request's time goes.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { generateKeyPairSync, randomUUID, sign, verify } from 'node:crypto';
import autocannon from 'autocannon';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { taperRequest } from './cdsRequest.ts';
import { perRequest, threadCpu } from './threadCpu.ts';

const DURATION = Number(process.env.BENCH_CDS_SECONDS ?? 8);

interface Row {
  name: string;
  connections: number;
  rps: number;
  p50: number;
  p99: number;
  non2xx: number;
  requests: number;
  cpu?: Array<[string, number]>;
  /** Measured inside the server: headers received → response finished. */
  server?: { p50: number; p99: number };
  /** Hook records still waiting for the audit store when the run ended (the trail must keep up). */
  backlog?: number;
}

/** CPU ms of one signature check, synchronously on this thread (OpenSSL through node:crypto). */
function verifyCost(kind: 'ES384' | 'RS384'): number {
  const { privateKey, publicKey } =
    kind === 'ES384'
      ? generateKeyPairSync('ec', { namedCurve: 'P-384' })
      : generateKeyPairSync('rsa', { modulusLength: 2048 });
  const data = Buffer.alloc(400, 7);
  const key = kind === 'ES384' ? { key: publicKey, dsaEncoding: 'ieee-p1363' as const } : publicKey;
  const sig = sign('sha384', data, kind === 'ES384' ? { key: privateKey, dsaEncoding: 'ieee-p1363' } : privateKey);
  const n = kind === 'ES384' ? 300 : 3000;
  const started = performance.now();
  for (let i = 0; i < n; i++) verify('sha384', data, key, sig);
  return (performance.now() - started) / n;
}

async function run(
  url: string,
  connections: number,
  body: string,
  header: () => string,
): Promise<Omit<Row, 'name' | 'connections' | 'cpu'>> {
  const result = await autocannon({
    url,
    connections,
    duration: DURATION,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body,
    requests: [{ setupRequest: (req) => ({ ...req, headers: { ...req.headers, authorization: header() } }) }],
  });
  return {
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    non2xx: result.non2xx,
    requests: result.requests.total,
  };
}

export async function runCdsBench(): Promise<void> {
  const { privateKey, publicKey } = await generateKeyPair('ES384');
  const jwk = { ...(await exportJWK(publicKey)), kid: 'bench', alg: 'ES384' };
  const child: ChildProcess = spawn(process.execPath, [new URL('./cdsServer.ts', import.meta.url).pathname], {
    env: { ...process.env, BENCH_CLIENT_JWK: JSON.stringify(jwk) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  try {
    const port = await new Promise<number>((resolve, reject) => {
      child.stdout!.on('data', (d) => {
        const m = /ready (\d+)/.exec(String(d));
        if (m) resolve(Number(m[1]));
      });
      child.on('exit', (c) => reject(new Error(`bench server exited (${c})`)));
    });
    const base = `http://127.0.0.1:${port}`;
    const service = `${base}/cds-services/osteonecrosis-screening`;
    const body = JSON.stringify(taperRequest(60));
    console.log(
      `\nCDS Hooks patient-view, ${(body.length / 1024).toFixed(1)} kB body, ${DURATION} s per run (autocannon)`,
    );
    // Every call needs a fresh jti (replays are refused), so tokens are signed ahead of the run.
    const tokens: string[] = [];
    const sign = () =>
      new SignJWT({})
        .setProtectedHeader({ alg: 'ES384', kid: 'bench', typ: 'JWT' })
        .setIssuer('urn:bench')
        .setAudience(service)
        .setIssuedAt()
        .setExpirationTime('1h')
        .setJti(randomUUID())
        .sign(privateKey);
    const need = 60_000;
    const started = Date.now();
    for (let i = 0; i < need; i += 500) tokens.push(...(await Promise.all(Array.from({ length: 500 }, sign))));
    console.log(
      `  (signed ${tokens.length.toLocaleString('en-US')} client JWTs in ${((Date.now() - started) / 1000).toFixed(1)} s)`,
    );
    let next = 0;
    const bearer = () => `Bearer ${tokens[next++ % tokens.length]}`;
    const rows: Row[] = [];
    const serverLatency = async () => (await (await fetch(`${base}/__bench/latency`)).json()) as Row['server'];
    const measured = async (name: string, url: string, connections: number) => {
      await serverLatency();
      const before = threadCpu(child.pid!);
      const r = await run(url, connections, body, bearer);
      const after = threadCpu(child.pid!);
      rows.push({
        name,
        connections,
        ...r,
        server: await serverLatency(),
        backlog: Number(/osteowatch_audit_queue_depth (\d+)/.exec(await (await fetch(`${base}/metrics`)).text())?.[1]),
        ...(before && after ? { cpu: perRequest(before, after, r.requests) } : {}),
      });
    };
    for (const connections of [1, 10]) {
      await measured('plain Express (parse only)', `${base}/plain`, connections);
      await measured('osteonecrosis-screening', service, connections);
    }
    for (const r of rows) {
      console.log(
        `  ${r.name.padEnd(28)} ${String(r.connections).padStart(2)} conn  ${r.rps.toFixed(0).padStart(6)} req/s  p50 ${r.p50.toFixed(1).padStart(5)} ms  p99 ${r.p99.toFixed(1).padStart(5)} ms  (in the server: p50 ${r.server!.p50.toFixed(1)}, p99 ${r.server!.p99.toFixed(1)} ms)${r.name.startsWith('plain') ? '' : `  audit backlog ${r.backlog}`}${r.non2xx ? `  (${r.non2xx} non-2xx!)` : ''}`,
      );
    }
    for (const c of [1, 10]) {
      const plain = rows.find((r) => r.connections === c && r.name.startsWith('plain'))!;
      const ours = rows.find((r) => r.connections === c && !r.name.startsWith('plain'))!;
      console.log(
        `  ${c} conn: ${((ours.rps / plain.rps) * 100).toFixed(0)} % of the plain endpoint's throughput (target ≥ 70 %)${c === 1 ? `; p99 ${ours.p99.toFixed(1)} ms (target < 10 ms)` : ''}`,
      );
    }
    const at10 = rows.filter((r) => r.connections === 10 && r.cpu);
    if (at10.length === 2) {
      console.log('  server CPU per request at 10 conn, by thread (the load generator shares the same cores):');
      for (const r of at10) {
        const total = r.cpu!.reduce((s, [, v]) => s + v, 0);
        console.log(
          `    ${r.name.padEnd(28)} ${total.toFixed(2)} ms = ${r.cpu!.map(([k, v]) => `${k} ${v.toFixed(2)}`).join(' + ')}`,
        );
      }
    }
    console.log(
      `  one client-signature check on this CPU: ES384 ${verifyCost('ES384').toFixed(2)} ms, RS384 ${verifyCost('RS384').toFixed(2)} ms (the plain endpoint checks none)`,
    );
  } finally {
    child.kill('SIGTERM');
  }
}
