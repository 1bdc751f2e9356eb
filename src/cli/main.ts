/**
 * The `osteowatch` command line. Errors print one clear line and exit non-zero; no stack traces. Commands throw
 * OsteoWatchErrors; runCli prints their message and exits with their kind's code (errors.ts): 2 for usage, 1 for
 * bad input or a server that failed.
 */
import { closeSync, mkdirSync, openSync, readFileSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { Command, CommanderError, Option } from 'commander';
import { generatePatients } from '../cohort/generate.ts';
import { loadServiceConfig } from '../config/env.ts';
import { exitCodeOf, OsteoWatchError } from '../errors.ts';
import { dayFromIso, dayIn } from '../exposure/dates.ts';
import { ConfigError, computeExposure, type ExposureConfig, resolveExposureConfig } from '../exposure/index.ts';
import { InputError, locatePatient, readResourceFile, withFileIssues } from '../fhir/bundleFile.ts';
import { type FhirLimits, fetchPatientRecords, fhirClient } from '../fhir/patientRecords.ts';
import { captureThirdPartyLogs, createLogger } from '../log/logger.ts';
import { addAuditCommands } from './audit.ts';
import { exposureJson, formatExposure } from './format.ts';
import { addHookCommand } from './hook.ts';
import { addIngestCommand } from './ingest.ts';
import { addSurveilCommands } from './surveil.ts';

class UsageError extends OsteoWatchError {
  constructor(message: string) {
    super('usage', message);
  }
}

/** Today in the clinic's time zone (OSTEOWATCH_TZ), as the service counts it. */
function today(): string {
  try {
    return dayIn(new Date(), process.env.OSTEOWATCH_TZ || 'UTC');
  } catch {
    throw new UsageError(
      `OSTEOWATCH_TZ must be an IANA time zone such as Europe/Zurich, got "${process.env.OSTEOWATCH_TZ}"`,
    );
  }
}

function asOfOption(value: string | undefined): string {
  if (value === undefined) return today();
  try {
    dayFromIso(value);
  } catch {
    throw new UsageError(`--as-of must be a calendar date YYYY-MM-DD, got "${value}"`);
  }
  return value;
}

function loadConfig(path: string | undefined): ExposureConfig {
  if (!path) return resolveExposureConfig();
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new InputError(`cannot read configuration ${path}: ${(err as Error).message}`);
  }
  try {
    return resolveExposureConfig(json);
  } catch (err) {
    // A bad --config file is bad input to this command (exit 1), not a service started wrongly (exit 2).
    throw err instanceof ConfigError ? new InputError(err.message) : err;
  }
}

/** The FHIR read limits the service takes from the environment (README, Configuration), for `exposure --fhir`. */
const FHIR_LIMIT_VARIABLES = [
  'OSTEOWATCH_FHIR_TIMEOUT_MS',
  'OSTEOWATCH_FHIR_MAX_PAGES',
  'OSTEOWATCH_FHIR_MAX_RESOURCES',
  'OSTEOWATCH_FHIR_CONCURRENCY',
] as const;

/**
 * OSTEOWATCH_FHIR_TIMEOUT_MS, _MAX_PAGES, _MAX_RESOURCES and _CONCURRENCY, parsed and checked as the service does
 * (config/env.ts, with its defaults); only these are read, so another variable set for the service cannot fail the
 * command. A bad value is a configuration error (exit 2) that names the variable.
 */
function fhirLimitsFromEnv(env: NodeJS.ProcessEnv = process.env): FhirLimits {
  const given = Object.fromEntries(FHIR_LIMIT_VARIABLES.flatMap((k) => (env[k] === undefined ? [] : [[k, env[k]]])));
  return loadServiceConfig(given).fhirLimits;
}

export function buildCli(out: (s: string) => void = (s) => process.stdout.write(s)): Command {
  const program = new Command('osteowatch')
    .description(
      'OsteoWatch: cumulative glucocorticoid exposure and osteonecrosis WB-MRI screening for myositis patients',
    )
    .version('0.1.0')
    .showHelpAfterError()
    .configureOutput({ writeOut: out, writeErr: (s) => process.stderr.write(s) })
    .exitOverride();

  program
    .command('exposure')
    .description('Cumulative prednisolone-equivalent glucocorticoid exposure of one patient')
    .addOption(
      new Option('--bundle <file>', 'FHIR Bundle (searchset, collection, transaction) or NDJSON file').conflicts(
        'fhir',
      ),
    )
    .addOption(new Option('--fhir <baseUrl>', 'FHIR R4 server base URL, e.g. http://127.0.0.1:8080/fhir'))
    .requiredOption('--patient <id>', 'Patient id')
    .option('--as-of <date>', 'count through this day, YYYY-MM-DD (default: today)')
    .option('--config <file>', 'exposure configuration JSON (equivalence, threshold, route and range policies)')
    .addOption(new Option('--token <token>', 'bearer token for --fhir').env('OSTEOWATCH_FHIR_TOKEN'))
    .option('--json', 'print JSON')
    .option('--timeline', 'include the daily timeline in the JSON')
    .action(
      async (opts: {
        bundle?: string;
        fhir?: string;
        patient: string;
        asOf?: string;
        config?: string;
        token?: string;
        json?: boolean;
        timeline?: boolean;
      }) => {
        if (!opts.bundle && !opts.fhir) throw new UsageError('give --bundle FILE or --fhir BASE_URL');
        const asOf = asOfOption(opts.asOf);
        const config = loadConfig(opts.config);
        const patient = opts.patient.replace(/^Patient\//, '');
        let summary: ReturnType<typeof computeExposure>;
        if (opts.bundle) {
          const loaded = readResourceFile(opts.bundle);
          // A patient found nowhere in the file is an error, not 0 mg (bundleFile.ts).
          const found = locatePatient(loaded, opts.patient, opts.bundle);
          const { resources, fullUrls } = loaded;
          summary = withFileIssues(computeExposure({ resources, fullUrls, patient: found.id, asOf, config }), found);
        } else {
          const limits = fhirLimitsFromEnv();
          const resources = await fetchPatientRecords(fhirClient(opts.fhir!, opts.token), patient, 100, limits);
          summary = computeExposure({ resources, patient, asOf, config });
        }
        out(
          opts.json ? `${JSON.stringify(exposureJson(summary, !!opts.timeline), null, 2)}\n` : formatExposure(summary),
        );
      },
    );

  addAuditCommands(program, out);
  addHookCommand(program, out);
  addIngestCommand(program, out);
  addSurveilCommands(program, out);

  const cohort = program.command('cohort').description('Synthetic demo cohort');
  cohort
    .command('generate')
    .description('Write the deterministic synthetic myositis cohort as a FHIR transaction Bundle or NDJSON')
    .option('--size <n>', 'number of patients', '300')
    .option('--seed <n>', 'random seed', '42')
    .option('--as-of <date>', 'reference day (default: today)')
    .addOption(new Option('--format <format>', 'output format').choices(['bundle', 'ndjson']).default('bundle'))
    .option('--out <path>', 'write to a file instead of standard output (a directory with --split)')
    .option(
      '--split',
      'NDJSON into the --out directory, one file per resource type (Patient.ndjson, …) as a Bulk Data export writes it; implied when --out is an existing directory',
    )
    .action((opts: { size: string; seed: string; asOf?: string; format: string; out?: string; split?: boolean }) => {
      const size = Number(opts.size);
      const seed = Number(opts.seed);
      if (!Number.isInteger(size) || size < 0)
        throw new UsageError(`--size must be a whole number, got "${opts.size}"`);
      if (!Number.isInteger(seed)) throw new UsageError(`--seed must be an integer, got "${opts.seed}"`);
      const isDir = (p: string) => {
        try {
          return statSync(p).isDirectory();
        } catch {
          return false;
        }
      };
      const split = !!opts.split || (opts.out !== undefined && isDir(opts.out));
      if (split && !opts.out) throw new UsageError('--split needs --out DIR (the directory the files go to)');
      if (split && opts.format !== 'ndjson')
        throw new UsageError(
          `${opts.split ? '--split' : `--out ${opts.out} is a directory: it`} takes --format ndjson`,
        );
      const patients = generatePatients({ size, seed, asOf: asOfOption(opts.asOf) });
      // Written as generated, one patient at a time through buffers of 64 kB: a cohort of any size is
      // never held whole in memory (100,000 patients make about 1.2 million resources, 940 MB).
      const sinks = new Map<string, { text: string; write: (s: string) => void; close?: () => void }>();
      const sink = (key: string, open: () => { write: (s: string) => void; close?: () => void }) => {
        let s = sinks.get(key);
        if (!s) {
          s = { text: '', ...open() };
          sinks.set(key, s);
        }
        return s;
      };
      const toFile = (path: string) => {
        const fd = openSync(path, 'w');
        return { write: (s: string) => void writeSync(fd, s), close: () => closeSync(fd) };
      };
      const add = (s: { text: string; write: (t: string) => void }, text: string) => {
        s.text += text;
        if (s.text.length >= 1 << 16) {
          s.write(s.text);
          s.text = '';
        }
      };
      const single = () => (opts.out ? toFile(opts.out) : { write: out });
      try {
        if (split) {
          mkdirSync(opts.out!, { recursive: true });
          for (const resources of patients)
            for (const r of resources)
              add(
                sink(r.resourceType, () => toFile(join(opts.out!, `${r.resourceType}.ndjson`))),
                `${JSON.stringify(r)}\n`,
              );
        } else if (opts.format === 'ndjson') {
          const s = sink('', single);
          for (const resources of patients) for (const r of resources) add(s, `${JSON.stringify(r)}\n`);
        } else {
          // The transaction Bundle of cohortTransaction (generate.ts), written entry by entry: the same bytes.
          const s = sink('', single);
          add(s, '{"resourceType":"Bundle","type":"transaction","entry":[');
          let first = true;
          for (const resources of patients)
            for (const r of resources) {
              const url = `${r.resourceType}/${r.id}`;
              add(
                s,
                `${first ? '' : ','}${JSON.stringify({ fullUrl: url, resource: r, request: { method: 'PUT', url } })}`,
              );
              first = false;
            }
          add(s, ']}\n');
        }
        for (const s of sinks.values()) if (s.text) s.write(s.text);
      } finally {
        for (const s of sinks.values()) s.close?.();
      }
    });
  return program;
}

export async function runCli(argv: string[]): Promise<number> {
  const program = buildCli();
  try {
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (err) {
    // Commander has printed its own message (and the help) already.
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
    if (err instanceof OsteoWatchError) {
      if (err.message) process.stderr.write(`osteowatch: ${err.message}\n`);
      return exitCodeOf(err);
    }
    process.stderr.write(`osteowatch: unexpected error: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
}

if (import.meta.main) {
  // Third-party libraries (ucum-lhc, dcmjs) print the content they were given; the CLI keeps patient data off
  // the terminal as the service keeps it out of its logs (LOG_LEVEL=debug shows that they spoke, not what).
  await captureThirdPartyLogs(createLogger(process.env.LOG_LEVEL ?? 'warn', process.stderr));
  runCli(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
