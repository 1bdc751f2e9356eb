/**
 * Cohort surveillance settings from the environment (OSTEOWATCH_SURVEILLANCE_*), validated with zod; every
 * message names the variable. The FHIR server it reads, how (crawl or bulk) and as whom (SMART Backend
 * Services, a static token, or nothing on a loopback demo), when it runs, and where its Tasks go.
 */
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { validate as validCron } from 'node-cron';
import { z } from 'zod';
import { isLoopbackUrl } from '../fhir/loopback.ts';
import { FHIR_ID } from '../terminology/fhirId.ts';
import { EnvError, ianaTimeZone, parseEnv } from './env.ts';

const int = (name: string, min: number, max: number, dflt: number) =>
  z.coerce
    .number({ error: `${name} must be a whole number` })
    .int({ error: `${name} must be a whole number` })
    .min(min, { error: `${name} must be at least ${min}` })
    .max(max, { error: `${name} must be at most ${max}` })
    .default(dflt);

const schema = z.object({
  OSTEOWATCH_SURVEILLANCE_FHIR_URL: z.url({ error: 'OSTEOWATCH_SURVEILLANCE_FHIR_URL must be a URL' }).optional(),
  OSTEOWATCH_SURVEILLANCE_MODE: z
    .enum(['crawl', 'bulk'], { error: 'OSTEOWATCH_SURVEILLANCE_MODE must be crawl or bulk' })
    .default('bulk'),
  OSTEOWATCH_SURVEILLANCE_GROUP_ID: z
    .string()
    .regex(FHIR_ID, { error: 'OSTEOWATCH_SURVEILLANCE_GROUP_ID must be a FHIR id' })
    .optional(),
  OSTEOWATCH_SURVEILLANCE_CLIENT_ID: z.string().min(1).optional(),
  OSTEOWATCH_SURVEILLANCE_PRIVATE_KEY: z.string().min(1).optional(),
  OSTEOWATCH_SURVEILLANCE_TOKEN_URL: z.url({ error: 'OSTEOWATCH_SURVEILLANCE_TOKEN_URL must be a URL' }).optional(),
  OSTEOWATCH_SURVEILLANCE_SCOPE: z.string().min(1).default('system/*.rs'),
  OSTEOWATCH_SURVEILLANCE_FHIR_TOKEN: z.string().min(1).optional(),
  OSTEOWATCH_SURVEILLANCE_CRON: z.string().min(1).optional(),
  OSTEOWATCH_SURVEILLANCE_TZ: ianaTimeZone('OSTEOWATCH_SURVEILLANCE_TZ').optional(),
  OSTEOWATCH_TZ: ianaTimeZone('OSTEOWATCH_TZ').default('UTC'),
  OSTEOWATCH_SURVEILLANCE_BATCH_SIZE: int('OSTEOWATCH_SURVEILLANCE_BATCH_SIZE', 1, 10_000, 100),
  OSTEOWATCH_SURVEILLANCE_HEARTBEAT_SECONDS: int('OSTEOWATCH_SURVEILLANCE_HEARTBEAT_SECONDS', 10, 3600, 30),
  OSTEOWATCH_SURVEILLANCE_CONCURRENCY: int('OSTEOWATCH_SURVEILLANCE_CONCURRENCY', 1, 64, 4),
  // Evaluation threads: the cores left once the instance's own thread and the database have one each, up to 4
  // (on two cores the threads only took turns with them: the same run time, 200 MB more; see README). 0: in
  // the batch's own thread.
  OSTEOWATCH_SURVEILLANCE_WORKERS: int(
    'OSTEOWATCH_SURVEILLANCE_WORKERS',
    0,
    64,
    Math.min(4, Math.max(0, availableParallelism() - 2)),
  ),
  OSTEOWATCH_SURVEILLANCE_EXPORT_WAIT_SECONDS: int('OSTEOWATCH_SURVEILLANCE_EXPORT_WAIT_SECONDS', 1, 86_400, 3600),
  OSTEOWATCH_TASK_FHIR_URL: z.string().min(1).optional(),
  OSTEOWATCH_TASK_FHIR_TOKEN: z.string().min(1).optional(),
});

export interface SurveillanceConfig {
  /** The FHIR server the cohort is read from; the service's own demo /fhir when not set. */
  fhirBaseUrl?: string;
  mode: 'crawl' | 'bulk';
  /** The Group exported in bulk mode (the demo's cohort Group when not set). */
  groupId?: string;
  backendServices?: { clientId: string; privateJwk: Record<string, unknown>; tokenUrl?: string; scope: string };
  staticToken?: string;
  cron?: string;
  /** The schedule's time zone (OSTEOWATCH_SURVEILLANCE_TZ, else the clinic's). */
  timezone: string;
  /** The clinic's (OSTEOWATCH_TZ): the day a run is for, as the cards count days. */
  clinicTimeZone?: string;
  batchSize: number;
  heartbeatSeconds: number;
  concurrency: number;
  /** Worker threads patients are evaluated in; 0 (or absent): the batch's own thread. */
  workers?: number;
  exportWaitSeconds: number;
  /** Where Tasks are written: a FHIR base, 'none', or (not set) the FHIR server read from. */
  taskFhirUrl?: string | 'none';
  /** A bearer token for the Task server, used instead of the read credentials (which no other server gets). */
  taskToken?: string;
}

export function loadSurveillanceConfig(env: NodeJS.ProcessEnv = process.env): SurveillanceConfig {
  const e = parseEnv(schema, env);
  if (!!e.OSTEOWATCH_SURVEILLANCE_CLIENT_ID !== !!e.OSTEOWATCH_SURVEILLANCE_PRIVATE_KEY)
    throw new EnvError(
      'OSTEOWATCH_SURVEILLANCE_CLIENT_ID and OSTEOWATCH_SURVEILLANCE_PRIVATE_KEY go together (SMART Backend Services)',
    );
  let backendServices: SurveillanceConfig['backendServices'];
  if (e.OSTEOWATCH_SURVEILLANCE_CLIENT_ID && e.OSTEOWATCH_SURVEILLANCE_PRIVATE_KEY) {
    let jwk: Record<string, unknown>;
    try {
      jwk = JSON.parse(readFileSync(e.OSTEOWATCH_SURVEILLANCE_PRIVATE_KEY, 'utf8'));
    } catch (err) {
      throw new EnvError(
        `OSTEOWATCH_SURVEILLANCE_PRIVATE_KEY: cannot read ${e.OSTEOWATCH_SURVEILLANCE_PRIVATE_KEY} as a JWK (${(err as Error).message})`,
      );
    }
    if (!['RS384', 'ES384'].includes(jwk.alg as string) || typeof jwk.kid !== 'string' || !('d' in jwk))
      throw new EnvError(
        'OSTEOWATCH_SURVEILLANCE_PRIVATE_KEY must be a private JWK with "kid" and "alg" RS384 or ES384 (SMART Backend Services)',
      );
    backendServices = {
      clientId: e.OSTEOWATCH_SURVEILLANCE_CLIENT_ID,
      privateJwk: jwk,
      tokenUrl: e.OSTEOWATCH_SURVEILLANCE_TOKEN_URL,
      scope: e.OSTEOWATCH_SURVEILLANCE_SCOPE,
    };
  }
  if (e.OSTEOWATCH_SURVEILLANCE_CRON) {
    // node-cron's own validator, so that a bad expression stops the start rather than never firing.
    if (!validCron(e.OSTEOWATCH_SURVEILLANCE_CRON))
      throw new EnvError('OSTEOWATCH_SURVEILLANCE_CRON must be a cron expression such as "0 6 * * *"');
  }
  const task = e.OSTEOWATCH_TASK_FHIR_URL;
  if (task && task !== 'none' && !URL.canParse(task))
    throw new EnvError('OSTEOWATCH_TASK_FHIR_URL must be a URL or "none"');
  // A bearer token travels only encrypted, or to this machine: to the Task server (the one read when
  // OSTEOWATCH_TASK_FHIR_URL is not set; the demo's own, loopback, when neither is), and to the server read.
  const clear = (url: string | undefined) => !!url && !url.startsWith('https:') && !isLoopbackUrl(url);
  if (e.OSTEOWATCH_TASK_FHIR_TOKEN && task !== 'none' && clear(task ?? e.OSTEOWATCH_SURVEILLANCE_FHIR_URL))
    throw new EnvError(
      `${task ? 'OSTEOWATCH_TASK_FHIR_URL' : 'OSTEOWATCH_SURVEILLANCE_FHIR_URL (where Tasks go)'} must be https (or loopback) when OSTEOWATCH_TASK_FHIR_TOKEN is set`,
    );
  if (e.OSTEOWATCH_SURVEILLANCE_FHIR_TOKEN && clear(e.OSTEOWATCH_SURVEILLANCE_FHIR_URL))
    throw new EnvError(
      'OSTEOWATCH_SURVEILLANCE_FHIR_URL must be https (or loopback) when OSTEOWATCH_SURVEILLANCE_FHIR_TOKEN is set',
    );
  return {
    fhirBaseUrl: e.OSTEOWATCH_SURVEILLANCE_FHIR_URL,
    mode: e.OSTEOWATCH_SURVEILLANCE_MODE,
    groupId: e.OSTEOWATCH_SURVEILLANCE_GROUP_ID,
    backendServices,
    staticToken: e.OSTEOWATCH_SURVEILLANCE_FHIR_TOKEN,
    cron: e.OSTEOWATCH_SURVEILLANCE_CRON,
    timezone: e.OSTEOWATCH_SURVEILLANCE_TZ ?? e.OSTEOWATCH_TZ,
    clinicTimeZone: e.OSTEOWATCH_TZ,
    batchSize: e.OSTEOWATCH_SURVEILLANCE_BATCH_SIZE,
    heartbeatSeconds: e.OSTEOWATCH_SURVEILLANCE_HEARTBEAT_SECONDS,
    concurrency: e.OSTEOWATCH_SURVEILLANCE_CONCURRENCY,
    workers: e.OSTEOWATCH_SURVEILLANCE_WORKERS,
    exportWaitSeconds: e.OSTEOWATCH_SURVEILLANCE_EXPORT_WAIT_SECONDS,
    taskFhirUrl: task,
    taskToken: e.OSTEOWATCH_TASK_FHIR_TOKEN,
  };
}
