/**
 * Service configuration from the environment, validated with zod. Every message names the variable.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { OsteoWatchError, zodIssues } from '../errors.ts';
import { type ExposureConfig, resolveExposureConfig } from '../exposure/config.ts';

const envSchema = z.object({
  PORT: z.coerce
    .number({ error: 'PORT must be a port number' })
    .int()
    .min(0)
    .max(65535, { error: 'PORT must be at most 65535' })
    .default(8080),
  HOST: z.string().min(1).default('127.0.0.1'),
  OSTEOWATCH_COHORT_SIZE: z.coerce
    .number({ error: 'OSTEOWATCH_COHORT_SIZE must be a number' })
    .int()
    .min(0)
    .max(100_000)
    .default(300),
  OSTEOWATCH_SEED: z.coerce.number({ error: 'OSTEOWATCH_SEED must be an integer' }).int().default(42),
  OSTEOWATCH_AS_OF: z
    .string()
    .regex(/^\d{4}-\d{2}-\d{2}$/, { error: 'OSTEOWATCH_AS_OF must be YYYY-MM-DD' })
    .optional(),
  OSTEOWATCH_EXPOSURE_CONFIG: z.string().optional(),
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, { error: 'DATABASE_URL must be a postgresql:// connection string' })
    .optional(),
  OSTEOWATCH_DATA_DIR: z.string().min(1).default('./data'),
  OSTEOWATCH_TZ: ianaTimeZone('OSTEOWATCH_TZ').default('UTC'),
  OSTEOWATCH_AUDIT_TOKEN: z
    .string()
    .min(16, { error: 'OSTEOWATCH_AUDIT_TOKEN must be at least 16 characters' })
    .optional(),
  OSTEOWATCH_TRUSTED_CLIENTS: z.string().optional(),
  OSTEOWATCH_PUBLIC_URL: z.url({ error: 'OSTEOWATCH_PUBLIC_URL must be a URL' }).optional(),
  OSTEOWATCH_FHIR_BASE_URL: z.url({ error: 'OSTEOWATCH_FHIR_BASE_URL must be a URL' }).optional(),
  OSTEOWATCH_INGEST_TOKEN: z
    .string()
    .min(16, { error: 'OSTEOWATCH_INGEST_TOKEN must be at least 16 characters' })
    .optional(),
  OSTEOWATCH_FHIR_TOKEN: z.string().optional(),
  OSTEOWATCH_DICOM_PORT: z.coerce
    .number({ error: 'OSTEOWATCH_DICOM_PORT must be a port number' })
    .int()
    .min(0)
    .max(65535)
    .optional(),
  OSTEOWATCH_DICOM_AE_TITLE: z
    .string()
    .regex(/^[ -~]{1,16}$/, { error: 'OSTEOWATCH_DICOM_AE_TITLE must be 1–16 printable characters' })
    .default('OSTEOWATCH'),
  OSTEOWATCH_ALLOW_OPEN_FHIR: z
    .enum(['true', 'false'], { error: 'OSTEOWATCH_ALLOW_OPEN_FHIR must be true or false' })
    .default('false'),
  // Per request to a FHIR server we read (CDS fhirServer): a server that never answers costs at most this.
  OSTEOWATCH_FHIR_TIMEOUT_MS: z.coerce
    .number({ error: 'OSTEOWATCH_FHIR_TIMEOUT_MS must be a number of milliseconds' })
    .int()
    .min(100)
    .max(600_000)
    .default(5_000),
  // All of one CDS call's waiting for fhirServer; past it the call answers 503 with Retry-After.
  OSTEOWATCH_HOOK_DEADLINE_MS: z.coerce
    .number({ error: 'OSTEOWATCH_HOOK_DEADLINE_MS must be a number of milliseconds' })
    .int()
    .min(100)
    .max(600_000)
    .default(10_000),
  // Pages one search (one prefetch key) follows: a next link without end stops here (412).
  OSTEOWATCH_FHIR_MAX_PAGES: z.coerce
    .number({ error: 'OSTEOWATCH_FHIR_MAX_PAGES must be a number' })
    .int()
    .min(1)
    .max(10_000)
    .default(50),
  // Resources one CDS call (or one patient fetch) may gather from a FHIR server: its memory is bounded (412).
  OSTEOWATCH_FHIR_MAX_RESOURCES: z.coerce
    .number({ error: 'OSTEOWATCH_FHIR_MAX_RESOURCES must be a number' })
    .int()
    .min(1)
    .max(1_000_000)
    .default(10_000),
  // Reads in flight at once against one fhirServer (referenced Medications, each read once).
  OSTEOWATCH_FHIR_CONCURRENCY: z.coerce
    .number({ error: 'OSTEOWATCH_FHIR_CONCURRENCY must be a number' })
    .int()
    .min(1)
    .max(64)
    .default(8),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

/** An IANA time zone name, checked against the zones this Node knows (the message names the variable). */
export function ianaTimeZone(name: string) {
  return z.string().refine(
    (tz) => {
      try {
        new Intl.DateTimeFormat('en-US', { timeZone: tz });
        return true;
      } catch {
        return false;
      }
    },
    { error: (i) => `${name} must be an IANA time zone such as Europe/Zurich, got "${String(i.input)}"` },
  );
}

export interface ServiceConfig {
  port: number;
  host: string;
  cohortSize: number;
  seed: number;
  /** The clinic's IANA time zone: what day "today" is for cards, the timeline, audit queries and runs. */
  timeZone: string;
  /** The reference day of the synthetic cohort; defaults to today. */
  asOf?: string;
  exposure: ExposureConfig;
  databaseUrl?: string;
  dataDir: string;
  auditToken?: string;
  trustedClientsPath?: string;
  publicUrl?: string;
  fhirBaseUrl?: string;
  allowOpenFhirServer: boolean;
  ingestToken?: string;
  dicomPort?: number;
  dicomAeTitle: string;
  fhirToken?: string;
  logLevel: z.infer<typeof envSchema>['LOG_LEVEL'];
  /** Bounds on reads from a FHIR server (OSTEOWATCH_FHIR_*), the FhirLimits of src/fhir/patientRecords.ts. */
  fhirLimits: { timeoutMs: number; maxPages: number; maxResources: number; concurrency: number };
  hookDeadlineMs: number;
}

export class EnvError extends OsteoWatchError {
  constructor(message: string) {
    super('config', message);
  }
}

/** The environment through a zod schema; every problem named by its variable, in one EnvError. */
export function parseEnv<S extends z.ZodType>(schema: S, env: NodeJS.ProcessEnv): z.infer<S> {
  const parsed = schema.safeParse(env);
  if (!parsed.success)
    throw new EnvError(
      `Invalid configuration:\n${zodIssues(parsed.error)
        .map((p) => `  - ${p}`)
        .join('\n')}`,
    );
  return parsed.data;
}

/** A comma-separated list of origins (https://host[:port]), no wildcard. */
const originList = (name: string) =>
  z
    .string()
    .optional()
    .transform((s) =>
      (s ?? '')
        .split(',')
        .map((o) => o.trim().replace(/\/+$/, ''))
        .filter(Boolean),
    )
    .refine((list) => list.every((o) => /^https?:\/\/[^/\s*]+$/.test(o)), {
      error: `${name} must be comma-separated origins (https://host[:port]), no wildcard`,
    });

/** Security settings: the shared jti replay store, credentialed CORS origins, the /metrics token, the pages' CSP. */
const securityEnvSchema = z.object({
  OSTEOWATCH_REDIS_URL: z
    .string()
    .regex(/^rediss?:\/\//, { error: 'OSTEOWATCH_REDIS_URL must be a redis:// or rediss:// URL' })
    .optional(),
  OSTEOWATCH_CORS_ORIGINS: originList('OSTEOWATCH_CORS_ORIGINS'),
  OSTEOWATCH_METRICS_TOKEN: z
    .string()
    .min(16, { error: 'OSTEOWATCH_METRICS_TOKEN must be at least 16 characters' })
    .optional(),
  OSTEOWATCH_PAGES_CONNECT_SRC: originList('OSTEOWATCH_PAGES_CONNECT_SRC'),
  OSTEOWATCH_PAGES_FRAME_ANCESTORS: originList('OSTEOWATCH_PAGES_FRAME_ANCESTORS'),
});

export interface SecurityConfig {
  redisUrl?: string;
  corsOrigins: string[];
  metricsToken?: string;
  /** Origins the pages may fetch from / be framed by besides their own (an EHR launching the timeline). */
  pagesConnectSrc: string[];
  pagesFrameAncestors: string[];
}

export function loadSecurityConfig(env: NodeJS.ProcessEnv = process.env): SecurityConfig {
  const e = parseEnv(securityEnvSchema, env);
  return {
    redisUrl: e.OSTEOWATCH_REDIS_URL,
    corsOrigins: e.OSTEOWATCH_CORS_ORIGINS,
    metricsToken: e.OSTEOWATCH_METRICS_TOKEN,
    pagesConnectSrc: e.OSTEOWATCH_PAGES_CONNECT_SRC,
    pagesFrameAncestors: e.OSTEOWATCH_PAGES_FRAME_ANCESTORS,
  };
}

export function loadServiceConfig(env: NodeJS.ProcessEnv = process.env): ServiceConfig {
  const e = parseEnv(envSchema, env);
  let exposureOverrides: unknown = {};
  if (e.OSTEOWATCH_EXPOSURE_CONFIG) {
    try {
      exposureOverrides = JSON.parse(readFileSync(e.OSTEOWATCH_EXPOSURE_CONFIG, 'utf8'));
    } catch (err) {
      throw new EnvError(
        `OSTEOWATCH_EXPOSURE_CONFIG: cannot read ${e.OSTEOWATCH_EXPOSURE_CONFIG} as JSON (${(err as Error).message})`,
      );
    }
  }
  return {
    port: e.PORT,
    host: e.HOST,
    cohortSize: e.OSTEOWATCH_COHORT_SIZE,
    seed: e.OSTEOWATCH_SEED,
    timeZone: e.OSTEOWATCH_TZ,
    asOf: e.OSTEOWATCH_AS_OF,
    exposure: resolveExposureConfig(exposureOverrides),
    databaseUrl: e.DATABASE_URL,
    dataDir: e.OSTEOWATCH_DATA_DIR,
    auditToken: e.OSTEOWATCH_AUDIT_TOKEN,
    trustedClientsPath: e.OSTEOWATCH_TRUSTED_CLIENTS,
    publicUrl: e.OSTEOWATCH_PUBLIC_URL?.replace(/\/+$/, ''),
    fhirBaseUrl: e.OSTEOWATCH_FHIR_BASE_URL,
    allowOpenFhirServer: e.OSTEOWATCH_ALLOW_OPEN_FHIR === 'true',
    ingestToken: e.OSTEOWATCH_INGEST_TOKEN,
    dicomPort: e.OSTEOWATCH_DICOM_PORT,
    dicomAeTitle: e.OSTEOWATCH_DICOM_AE_TITLE,
    fhirToken: e.OSTEOWATCH_FHIR_TOKEN,
    logLevel: e.LOG_LEVEL,
    fhirLimits: {
      timeoutMs: e.OSTEOWATCH_FHIR_TIMEOUT_MS,
      maxPages: e.OSTEOWATCH_FHIR_MAX_PAGES,
      maxResources: e.OSTEOWATCH_FHIR_MAX_RESOURCES,
      concurrency: e.OSTEOWATCH_FHIR_CONCURRENCY,
    },
    hookDeadlineMs: e.OSTEOWATCH_HOOK_DEADLINE_MS,
  };
}
