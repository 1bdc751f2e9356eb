/**
 * `npm start`: the demo — an embedded FHIR R4 server seeded with a synthetic myositis cohort, on one port.
 */
import type { Server } from 'node:http';
import { MemoryRepository } from '@medplum/fhir-router';
import { EnvError, loadServiceConfig } from './config/env.ts';
import { seedDemoCohort } from './demo/seed.ts';
import { ConfigError } from './exposure/config.ts';
import { isoFromDay } from './exposure/dates.ts';
import { loadFhirDefinitions } from './fhir/definitions.ts';
import { createLogger } from './log/logger.ts';
import { createApp } from './server/app.ts';

async function main(): Promise<void> {
  let config: ReturnType<typeof loadServiceConfig>;
  try {
    config = loadServiceConfig();
  } catch (err) {
    if (err instanceof EnvError || err instanceof ConfigError) {
      process.stderr.write(`osteowatch: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const logger = createLogger(config.logLevel);
  loadFhirDefinitions();
  const repo = new MemoryRepository();
  let ready = false;
  const app = createApp({ repo, logger, isReady: () => ready });
  const server: Server = app.listen(config.port, config.host);
  server.on('error', (err) => {
    logger.fatal({ err: err.message }, 'cannot listen');
    process.exit(1);
  });
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  logger.info({ url: `http://${config.host}:${port}` }, 'listening');

  const asOf = config.asOf ?? isoFromDay(Math.floor(Date.now() / 86_400_000));
  const started = Date.now();
  const count = await seedDemoCohort(repo, { size: config.cohortSize, seed: config.seed, asOf });
  ready = true;
  logger.info({ resources: count, patients: config.cohortSize, asOf, ms: Date.now() - started }, 'demo cohort loaded');
  process.stdout.write(
    `OsteoWatch demo ready: FHIR server at http://${config.host}:${port}/fhir (${config.cohortSize} synthetic patients)\n`,
  );

  const shutdown = (signal: string) => {
    logger.info({ signal }, 'shutting down');
    server.close(() => process.exit(0));
    setTimeout(() => process.exit(0), 5000).unref();
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

main().catch((err) => {
  process.stderr.write(`osteowatch: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
