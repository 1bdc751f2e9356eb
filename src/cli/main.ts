/**
 * The `osteowatch` command line. Errors print one clear line and exit non-zero; no stack traces. Commands throw
 * OsteoWatchErrors; runCli prints their message and exits with their kind's code (errors.ts): 2 for usage, 1 for
 * bad input or a server that failed.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { Command, CommanderError, Option } from 'commander';
import { cohortTransaction, generateCohort } from '../cohort/generate.ts';
import { exitCodeOf, OsteoWatchError } from '../errors.ts';
import { dayFromIso, isoFromDay } from '../exposure/dates.ts';
import { ConfigError, computeExposure, type ExposureConfig, resolveExposureConfig } from '../exposure/index.ts';
import { InputError, locatePatient, readResourceFile, withFileIssues } from '../fhir/bundleFile.ts';
import { fetchPatientRecords, fhirClient } from '../fhir/patientRecords.ts';
import { captureThirdPartyLogs, createLogger } from '../log/logger.ts';
import { addAuditCommands } from './audit.ts';
import { exposureJson, formatExposure } from './format.ts';
import { addHookCommand } from './hook.ts';
import { addIngestCommand } from './ingest.ts';

class UsageError extends OsteoWatchError {
  constructor(message: string) {
    super('usage', message);
  }
}

const today = (): string => isoFromDay(Math.floor(Date.now() / 86_400_000));

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
          const resources = await fetchPatientRecords(fhirClient(opts.fhir!, opts.token), patient);
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

  const cohort = program.command('cohort').description('Synthetic demo cohort');
  cohort
    .command('generate')
    .description('Write the deterministic synthetic myositis cohort as a FHIR transaction Bundle or NDJSON')
    .option('--size <n>', 'number of patients', '300')
    .option('--seed <n>', 'random seed', '42')
    .option('--as-of <date>', 'reference day (default: today)')
    .addOption(new Option('--format <format>', 'output format').choices(['bundle', 'ndjson']).default('bundle'))
    .option('--out <file>', 'write to a file instead of standard output')
    .action((opts: { size: string; seed: string; asOf?: string; format: string; out?: string }) => {
      const size = Number(opts.size);
      const seed = Number(opts.seed);
      if (!Number.isInteger(size) || size < 0)
        throw new UsageError(`--size must be a whole number, got "${opts.size}"`);
      if (!Number.isInteger(seed)) throw new UsageError(`--seed must be an integer, got "${opts.seed}"`);
      const resources = generateCohort({ size, seed, asOf: asOfOption(opts.asOf) });
      const text =
        opts.format === 'ndjson'
          ? `${resources.map((r) => JSON.stringify(r)).join('\n')}\n`
          : `${JSON.stringify(cohortTransaction(resources))}\n`;
      if (opts.out) writeFileSync(opts.out, text);
      else out(text);
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
