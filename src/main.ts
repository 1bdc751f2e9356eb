/**
 * `npm start`: the demo — an embedded FHIR R4 server seeded with a synthetic myositis cohort, the audit store
 * and its API, all on one port.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { join } from 'node:path';
import { MemoryRepository } from '@medplum/fhir-router';
import { HookJournal, journalDir } from './audit/journal.ts';
import { HookAuditQueue } from './audit/queue.ts';
import { AuditService } from './audit/service.ts';
import { type AuditStore, openAuditStore } from './audit/store.ts';
import { openReplayStore } from './auth/replayStore.ts';
import { loadTrustedClients, parseTrustedClients, trustedFor } from './auth/trustedClients.ts';
import { DEMO_CLIENT_ISS, ensureDemoClientKey } from './cdsHooks/demoClient.ts';
import { CDS_SERVICES } from './cdsHooks/services/index.ts';
import { loadSecurityConfig, loadServiceConfig } from './config/env.ts';
import { loadSurveillanceConfig } from './config/surveillance.ts';
import { COHORT_GROUP_ID, createCohortGroup } from './demo/cohortGroup.ts';
import { seedDemoCohort } from './demo/seed.ts';
import {
  ensureSurveillanceClientKey,
  SURVEILLANCE_CLIENT_ID,
  SURVEILLANCE_SCOPE,
  surveillanceClientRegistration,
} from './demo/surveillanceClient.ts';
import { exitCodeOf, OsteoWatchError } from './errors.ts';
import { dayIn } from './exposure/dates.ts';
import { computeExposure } from './exposure/index.ts';
import { loadFhirDefinitions } from './fhir/definitions.ts';
import { fetchPatientRecords, fhirClient } from './fhir/patientRecords.ts';
import { startDicomReceiver } from './imaging/dicomReceiver.ts';
import { writeFindings } from './imaging/writeBack.ts';
import { captureThirdPartyLogs, createLogger } from './log/logger.ts';
import { createMetrics } from './metrics/metrics.ts';
import { createApp } from './server/app.ts';
import { setCdsCredentialedOrigins } from './server/cors.ts';
import { AccessTokens, authorizeUrl, tokenUrl } from './server/oauthRoutes.ts';
import { demoLaunchUrl, LaunchContexts } from './server/smartLaunch.ts';
import { acquireDirLock } from './store/lock.ts';
import { Surveillance } from './surveillance/service.ts';

/** How long a shutdown may take before the process exits anyway (what is not written stays journaled). */
const SHUTDOWN_MS = 25_000;

function fail(message: string, code: number): never {
  process.stderr.write(`osteowatch: ${message}\n`);
  process.exit(code);
}

/** The demo's audit token: configured, or generated once and kept (mode 0600) in the data directory. */
function demoToken(dataDir: string, name: string): { token: string; file: string } {
  const file = join(dataDir, name);
  if (existsSync(file)) return { token: readFileSync(file, 'utf8').trim(), file };
  mkdirSync(dataDir, { recursive: true });
  const token = randomBytes(24).toString('base64url');
  writeFileSync(file, `${token}\n`, { mode: 0o600 });
  return { token, file };
}

async function main(): Promise<void> {
  let config: ReturnType<typeof loadServiceConfig>;
  let trustedClients: ReturnType<typeof loadTrustedClients>;
  let security: ReturnType<typeof loadSecurityConfig>;
  let surveillanceConfig: ReturnType<typeof loadSurveillanceConfig>;
  try {
    config = loadServiceConfig();
    security = loadSecurityConfig();
    surveillanceConfig = loadSurveillanceConfig();
    // Reading an EHR in bulk needs its Group; only the demo's own server has one we know.
    if (
      surveillanceConfig.mode === 'bulk' &&
      !surveillanceConfig.groupId &&
      (surveillanceConfig.fhirBaseUrl ?? config.fhirBaseUrl)
    )
      throw new OsteoWatchError(
        'config',
        'OSTEOWATCH_SURVEILLANCE_GROUP_ID is required to read another FHIR server in bulk mode (or set OSTEOWATCH_SURVEILLANCE_MODE=crawl)',
      );
    trustedClients = loadTrustedClients(config.trustedClientsPath);
  } catch (err) {
    // Bad configuration (environment, exposure configuration, trusted clients): exit 2, as for bad usage.
    if (err instanceof OsteoWatchError) fail(err.message, exitCodeOf(err));
    throw err;
  }
  const logger = createLogger(config.logLevel);
  // ucum-lhc and dcmjs print what they are given (unit strings, DICOM values): debug records without the text.
  await captureThirdPartyLogs(logger);
  setCdsCredentialedOrigins(security.corsOrigins);
  loadFhirDefinitions();

  let store: AuditStore;
  try {
    store = await openAuditStore(
      config.databaseUrl ? { databaseUrl: config.databaseUrl } : { dataDir: config.dataDir },
    );
  } catch (err) {
    // Held by another process: exit 1, with a message that says which.
    if (err instanceof OsteoWatchError) fail(err.message, exitCodeOf(err));
    fail(`cannot open the store: ${(err as Error).message}`, 1);
  }
  let auditToken = config.auditToken;
  if (!auditToken && !config.databaseUrl) {
    const demo = demoToken(config.dataDir, 'audit-token');
    auditToken = demo.token;
    logger.info({ file: demo.file }, 'audit API token (demo) written');
  }

  const repo = new MemoryRepository();
  let ready = false;
  let publicUrl = config.publicUrl ?? '';
  const audit = new AuditService(
    store,
    config.exposure.thresholdMg,
    async (patientId, asOf) => {
      const resources = await fetchPatientRecords(fhirClient(config.fhirBaseUrl ?? `${publicUrl}/fhir`), patientId);
      return computeExposure({ resources, patient: patientId, asOf, config: config.exposure });
    },
    config.timeZone,
  );
  const auth = {
    staticToken: auditToken,
    trustedClients: trustedFor(trustedClients, 'audit'),
    get audience() {
      return `${publicUrl}/audit`;
    },
    requiredScope: 'audit',
  };
  // The demo trusts its own CDS client, whose key pair it keeps in the data directory.
  const demoKey = await ensureDemoClientKey(config.dataDir);
  const cdsClients = [
    ...trustedFor(trustedClients, 'cds-hooks'),
    ...parseTrustedClients([
      { iss: DEMO_CLIENT_ISS, jwks: { keys: [demoKey.publicJwk] }, tenant: 'demo', uses: ['cds-hooks'] },
    ]),
  ];
  // jti replay protection shared between instances: Redis, else PostgreSQL, else this process's memory.
  const replay = openReplayStore({
    redisUrl: security.redisUrl,
    db: config.databaseUrl ? store.db : undefined,
    onStateChange: (state, reason) =>
      state === 'ready'
        ? logger.info('jti replay store (Redis) connected')
        : logger.error({ reason }, 'jti replay store (Redis) unreachable: CDS calls are refused (503)'),
  });
  logger.info({ store: replay.kind }, 'jti replay store');
  // The hook audit journal (write-ahead, in the data directory, for both engines): a hook answer is sent once
  // its record is fsynced there. What an earlier run journaled and did not store (a crash, a kill -9, a
  // shutdown that ran out of time) is written now, before the first call is answered.
  let journal: HookJournal;
  try {
    acquireDirLock(journalDir(config.dataDir));
    journal = HookJournal.open(config.dataDir);
    const replay = await journal.replay(store.audit);
    if (replay.replayed || replay.skipped || replay.unreadable || replay.failed)
      logger.info(replay, 'audit journal replayed into the store');
  } catch (err) {
    await store.close().catch(() => undefined);
    if (err instanceof OsteoWatchError) fail(err.message, exitCodeOf(err));
    fail(`cannot replay the audit journal: ${(err as Error).message}`, 1);
  }
  const hookAudit = new HookAuditQueue(store.audit, {
    journal,
    onFailure: (err) =>
      logger.error({ err: err instanceof Error ? err.name : typeof err }, 'audit record failed (not stored)'),
  });
  const services = CDS_SERVICES;
  const metrics = createMetrics({ serviceIds: services.map((s) => s.id) });
  metrics.watchAuditQueue(hookAudit);
  const cds = {
    services,
    auth: { trustedClients: cdsClients, replay },
    audit: store.audit,
    deps: {
      exposure: config.exposure,
      audit: hookAudit,
      publicUrl: () => publicUrl,
      allowOpenFhirServer: config.allowOpenFhirServer,
      fhirLimits: config.fhirLimits,
      hookDeadlineMs: config.hookDeadlineMs,
      // Every card links to the exposure timeline (a SMART app served at /app/, launched by the EHR).
      timelineLaunchUrl: () => `${publicUrl}/app/launch`,
      now: () => new Date(),
      timeZone: config.timeZone,
      logger,
    },
  };
  let ingestToken = config.ingestToken;
  if (!ingestToken && !config.databaseUrl) {
    const demo = demoToken(config.dataDir, 'ingest-token');
    ingestToken = demo.token;
    logger.info({ file: demo.file }, 'imaging ingest token (demo) written');
  }
  const imaging = {
    auth: {
      staticToken: ingestToken,
      trustedClients: trustedFor(trustedClients, 'imaging'),
      get audience() {
        return `${publicUrl}/imaging/findings`;
      },
      requiredScope: 'imaging',
    },
    fhirBaseUrl: () => config.fhirBaseUrl ?? `${publicUrl}/fhir`,
    fhirToken: config.fhirToken,
    audit: store.audit,
  };
  // The demo FHIR server's SMART Backend Services token endpoint and Bulk Data export, and the demo's own
  // surveillance client (its key pair kept in the data directory) registered with it.
  const accessTokens = new AccessTokens();
  // SMART App Launch contexts (the Sandbox's launch endpoint and the authorization endpoint share them).
  const launches = new LaunchContexts();
  const surveillanceKey = await ensureSurveillanceClientKey(config.dataDir);
  const readsDemo = !(surveillanceConfig.fhirBaseUrl ?? config.fhirBaseUrl);
  const surveillance = new Surveillance({
    config: surveillanceConfig,
    exposure: config.exposure,
    db: store.db,
    databaseUrl: config.databaseUrl,
    audit: store.audit,
    logger,
    defaultFhirBaseUrl: () => config.fhirBaseUrl ?? `${publicUrl}/fhir`,
    defaultGroupId: readsDemo ? COHORT_GROUP_ID : undefined,
    defaultBackendServices: readsDemo
      ? { clientId: SURVEILLANCE_CLIENT_ID, privateJwk: surveillanceKey.privateJwk, scope: SURVEILLANCE_SCOPE }
      : undefined,
    fhirLimits: config.fhirLimits,
    metrics: metrics.surveillance,
  });
  const app = createApp({
    repo,
    logger,
    isReady: () => ready,
    storeReachable: () => store.db.reachable(),
    audit: { service: audit, auth },
    cds,
    imaging,
    oauth: {
      clients: [surveillanceClientRegistration(surveillanceKey)],
      publicUrl: () => publicUrl,
      tokens: accessTokens,
      smart: { repo, launches },
    },
    smart: { launches, authorizeUrl: () => authorizeUrl(publicUrl), tokenUrl: () => tokenUrl(publicUrl) },
    bulk: { tokens: accessTokens, tokenUrl: () => tokenUrl(publicUrl) },
    // The surveillance API shows patient data: the audit API's authentication (its token or trusted JWTs).
    surveillance: { surveillance, auth, audit: store.audit },
    pages: {
      assess: { exposure: config.exposure, now: () => new Date(), timeZone: config.timeZone },
      connectSrc: security.pagesConnectSrc,
      frameAncestors: security.pagesFrameAncestors,
      // The worklist's patients are the demo's own when surveillance reads it: their timeline opens through the
      // demo's EHR stand-in, the patient in context, rather than at the patient picker.
      ...(readsDemo ? { launchForPatient: demoLaunchUrl } : {}),
    },
    metrics,
    metricsToken: security.metricsToken,
  });
  const server: Server = app.listen(config.port, config.host);
  server.on('error', (err) => {
    logger.fatal({ err: err.message }, 'cannot listen');
    process.exit(1);
  });
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  publicUrl ||= `http://${config.host}:${port}`;
  logger.info({ url: publicUrl, store: store.db.kind }, 'listening');

  if (config.dicomPort !== undefined) {
    const rx = await startDicomReceiver({
      port: config.dicomPort,
      host: config.host,
      aeTitle: config.dicomAeTitle,
      onReport: async (doc) => {
        const base = config.fhirBaseUrl ?? `${publicUrl}/fhir`;
        await writeFindings(doc, {
          client: fhirClient(base, config.fhirToken),
          now: new Date(),
          audit: store.audit,
          fhirServer: base,
          actor: 'dicom-receiver',
        });
      },
      onError: (message) => logger.warn({ message }, 'DICOM report refused'),
    });
    logger.info({ port: rx.port, aeTitle: config.dicomAeTitle }, 'DICOM receiver listening');
  }

  // The cohort's reference day is the clinic's today, as every card counts it.
  const asOf = config.asOf ?? dayIn(new Date(), config.timeZone);
  const started = Date.now();
  const count = await seedDemoCohort(repo, { size: config.cohortSize, seed: config.seed, asOf });
  await createCohortGroup(repo);
  // Cohort surveillance: the job queue, this instance's workers, unfinished runs resumed, the schedule.
  try {
    await surveillance.start();
  } catch (err) {
    logger.fatal({ err: (err as Error).message }, 'cohort surveillance could not start');
    process.exit(1);
  }
  ready = true;
  logger.info({ resources: count, patients: config.cohortSize, asOf, ms: Date.now() - started }, 'demo cohort loaded');
  process.stdout.write(
    `OsteoWatch demo ready: FHIR server at ${publicUrl}/fhir (${config.cohortSize} synthetic patients), audit API at ${publicUrl}/audit, CDS Hooks at ${publicUrl}/cds-services, surveillance at ${publicUrl}/surveillance\n`,
  );

  // Shutdown: stop accepting hook calls (503), let the calls in flight finish, write everything queued to
  // the store, then exit. Whatever is not written in time stays in the journal and is replayed at next start.
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    // Not ready from now on (/readyz 503): a load balancer sends no new work while surveillance stops.
    ready = false;
    logger.info({ signal, queued: hookAudit.size }, 'shutting down');
    hookAudit.stop();
    const force = setTimeout(() => {
      logger.warn({ queued: hookAudit.size }, 'shutdown timed out; the rest is in the audit journal');
      process.exit(0);
    }, SHUTDOWN_MS);
    force.unref();
    // Surveillance first, while the HTTP server is still up: in the demo it is also the FHIR and Task server that
    // the batch in progress is talking to (what it does not finish in time is retried after the restart).
    void (async () => {
      await surveillance.stop().catch(() => undefined);
      const connections = setTimeout(() => server.closeAllConnections(), 2000);
      connections.unref();
      server.close(() => {
        void (async () => {
          const drained = await hookAudit.drain(SHUTDOWN_MS - 2000);
          await journal.close();
          await store.close();
          logger.info({ drained, written: hookAudit.written, failed: hookAudit.failed }, 'stopped');
          process.exit(0);
        })().catch(() => process.exit(1));
      });
      server.closeIdleConnections();
    })();
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

main().catch((err) => {
  fail(err instanceof Error ? err.message : String(err), err instanceof OsteoWatchError ? exitCodeOf(err) : 1);
});
