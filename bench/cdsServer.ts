/**
 * The process under load for the CDS Hooks benchmark: the real application (CDS Hooks with JWT checks, the
 * audit trail in an in-memory PGlite store) and, on the same port, a plain Express endpoint that only parses
 * the same body. Prints "ready <port>" when listening.
 */

import { MemoryRepository } from '@medplum/fhir-router';
import express from 'express';
import { HookAuditQueue } from '../src/audit/queue.ts';
import { openAuditStore } from '../src/audit/store.ts';
import { ReplayCache } from '../src/auth/cdsJwt.ts';
import { parseTrustedClients } from '../src/auth/trustedClients.ts';
import { CDS_SERVICES } from '../src/cdsHooks/services/index.ts';
import { resolveExposureConfig } from '../src/exposure/index.ts';
import { loadFhirDefinitions } from '../src/fhir/definitions.ts';
import { createMetrics } from '../src/metrics/metrics.ts';
import { createApp } from '../src/server/app.ts';

const jwk = JSON.parse(process.env.BENCH_CLIENT_JWK!);
loadFhirDefinitions();
const url = process.env.DATABASE_URL;
const schema = `ow_cdsbench_${Date.now().toString(36)}`;
const store = await openAuditStore(url ? { databaseUrl: url, schema } : { memory: true });
process.stderr.write(
  `  (audit store: ${process.env.BENCH_NO_AUDIT ? 'none — BENCH_NO_AUDIT set, to show what the audit trail costs' : url ? 'PostgreSQL' : 'PGlite in memory'})\n`,
);
let base = '';
const services = CDS_SERVICES;
const auditQueue = process.env.BENCH_NO_AUDIT ? undefined : new HookAuditQueue(store.audit);
const metrics = createMetrics({ serviceIds: services.map((s) => s.id) });
if (auditQueue) metrics.watchAuditQueue(auditQueue);
const app = createApp({
  repo: new MemoryRepository(),
  metrics,
  cds: {
    services,
    auth: {
      trustedClients: parseTrustedClients([{ iss: 'urn:bench', jwks: { keys: [jwk] } }]),
      replay: new ReplayCache(1_000_000),
    },
    audit: store.audit,
    deps: {
      exposure: resolveExposureConfig(),
      audit: auditQueue,
      publicUrl: () => base,
      allowOpenFhirServer: false,
      now: () => new Date('2025-06-01T10:00:00Z'),
    },
  },
});
const plain = express.Router();
plain.post('/', express.json({ limit: '10mb' }), (_req, res) => {
  res.json({ cards: [] });
});
const root = express();
// Server-side latency (headers received → response finished), so the report can tell the server's tail
// from the load generator's own pauses. GET /__bench/latency returns p50/p99 since the last call.
const latencies: number[] = [];
root.use((req, res, next) => {
  if (req.path.startsWith('/__bench')) return next();
  const started = performance.now();
  res.on('finish', () => latencies.push(performance.now() - started));
  next();
});
root.get('/__bench/latency', (_req, res) => {
  const s = latencies.splice(0).sort((a, b) => a - b);
  const q = (p: number) => s[Math.floor(p * (s.length - 1))] ?? null;
  res.json({ n: s.length, p50: q(0.5), p99: q(0.99) });
});
root.use('/plain', plain);
root.use(app);
const server = root.listen(0, '127.0.0.1', () => {
  const port = (server.address() as { port: number }).port;
  base = `http://127.0.0.1:${port}`;
  process.stdout.write(`ready ${port}\n`);
});
process.on('SIGTERM', () =>
  server.close(async () => {
    if (url) await store.db.exec(`drop schema ${schema} cascade`);
    await store.close();
    process.exit(0);
  }),
);
