/** `osteowatch audit …`: the auditors' queries as a table, CSV or JSON. */
import { writeFileSync } from 'node:fs';
import { type Command, Option } from 'commander';
import { toCsv } from '../audit/csv.ts';
import { OsteoWatchError } from '../errors.ts';
import { totalMg } from '../exposure/format.ts';
import { DEFAULT_EXPOSURE_CONFIG } from '../exposure/index.ts';
import { type AuditClient, localAuditClient, remoteAuditClient } from './auditClient.ts';
import { table } from './table.ts';

/**
 * Ends a command with an exit code of its own choosing and a message (none: the output has said it already, as
 * `audit verify` does of a broken chain).
 */
export class CliExit extends OsteoWatchError {
  readonly code: number;
  constructor(code: number, message = '') {
    super(code === 2 ? 'usage' : 'invalid', message, { exitCode: code });
    this.code = code;
  }
}

interface Common {
  url?: string;
  token?: string;
  databaseUrl?: string;
  dataDir: string;
  json?: boolean;
  csv?: boolean;
}

const DATE = /^\d{4}-\d{2}-\d{2}$/;

function checkDates(o: { from: string; to: string }): void {
  for (const [k, v] of Object.entries({ from: o.from, to: o.to })) {
    if (!DATE.test(v)) throw new CliExit(2, `--${k} must be a date YYYY-MM-DD, got "${v}"`);
  }
}

/**
 * Where a reading command gets its answers: a running service (--url with the audit API token), or the store
 * itself (PostgreSQL, or the embedded data directory when no service holds it); and --json.
 */
export function storeOptions(c: Command): Command {
  return c
    .addOption(new Option('--url <url>', 'use a running service instead of the store').env('OSTEOWATCH_URL'))
    .addOption(new Option('--token <token>', 'audit API token for --url').env('OSTEOWATCH_AUDIT_TOKEN'))
    .addOption(new Option('--database-url <url>', 'PostgreSQL store').env('DATABASE_URL'))
    .addOption(new Option('--data-dir <dir>', 'embedded store directory').env('OSTEOWATCH_DATA_DIR').default('./data'))
    .option('--json', 'print JSON');
}

export function addAuditCommands(program: Command, out: (s: string) => void): void {
  const audit = program
    .command('audit')
    .description('Audit trail: who was shown what, on which data, and what they did');
  const common = (c: Command) => storeOptions(c).option('--csv', 'print CSV');

  async function withClient<T>(o: Common & { fhir?: string }, fn: (c: AuditClient) => Promise<T>): Promise<T> {
    let client: AuditClient;
    if (o.url) {
      if (!o.token) throw new CliExit(2, '--url needs --token (or OSTEOWATCH_AUDIT_TOKEN)');
      client = remoteAuditClient({ url: o.url, token: o.token });
    } else {
      client = await localAuditClient({
        databaseUrl: o.databaseUrl,
        dataDir: o.dataDir,
        thresholdMg: DEFAULT_EXPOSURE_CONFIG.thresholdMg,
        fhir: o.fhir,
      });
    }
    try {
      return await fn(client);
    } finally {
      await client.close();
    }
  }

  common(
    audit.command('verify').description('Verify the hash chain; exit 0 when it holds, 1 at the first broken record'),
  ).action(async (o: Common) => {
    const r = await withClient(o, (c) => c.verify());
    if (o.json) out(`${JSON.stringify(r, null, 2)}\n`);
    else if (r.ok) out(`audit chain intact: ${r.checked} records verified\n`);
    else
      out(
        `audit chain BROKEN at record ${r.firstBroken!.seq}: ${r.firstBroken!.reason} (${r.checked} records before it verified)\n`,
      );
    if (!r.ok) throw new CliExit(1);
  });

  common(
    audit
      .command('patient')
      .description("One patient's recorded exposure history and every recommendation shown")
      .argument('<id>', 'Patient id'),
  )
    .option('--live', 'also compute the exposure now from the FHIR server')
    .option('--fhir <baseUrl>', 'FHIR server for --live (local store mode)')
    .option('--as-of <date>', 'as-of day for --live')
    .option('--limit <n>', 'hook invocations per page', '50')
    .option('--cursor <cursor>', 'next page')
    .action(
      async (
        id: string,
        o: Common & { live?: boolean; fhir?: string; asOf?: string; limit: string; cursor?: string },
      ) => {
        const r = await withClient(o, (c) =>
          c.patient(id.replace(/^Patient\//, ''), {
            live: o.live,
            asOf: o.asOf,
            limit: Number(o.limit),
            cursor: o.cursor,
          }),
        );
        if (o.json) return out(`${JSON.stringify(r, null, 2)}\n`);
        if (o.csv)
          return out(toCsv(r.exposureByDate, ['asOf', 'cumulativeMg', 'lowerBound', 'currentDailyMg', 'crossedOn']));
        const lines = [
          `Patient ${r.patient}`,
          '',
          'Cumulative prednisolone-equivalent dose by date (recorded snapshots):',
        ];
        lines.push(
          table(
            ['As of', 'Cumulative mg', 'Daily mg', 'Crossed on'],
            r.exposureByDate.map((e) => [
              e.asOf,
              totalMg({ cumulativeMg: e.cumulativeMg, cumulativeIsLowerBound: e.lowerBound }),
              String(e.currentDailyMg ?? '—'),
              e.crossedOn ?? '—',
            ]),
          ),
        );
        lines.push('', 'Recommendations shown:');
        const cards = r.invocations.items.flatMap((i) =>
          i.cards.map((c) => [
            i.recordedAt,
            i.service,
            c.indicator,
            c.uuid,
            c.feedback
              .map((f) => f.outcome + (f.overrideReason?.display ? ` (${f.overrideReason.display})` : ''))
              .join(', ') || 'no response',
            c.summary,
          ]),
        );
        lines.push(table(['When', 'Service', 'Indicator', 'Card', 'Response', 'Summary'], cards));
        if (r.invocations.nextCursor) lines.push(`(more: --cursor ${r.invocations.nextCursor})`);
        // What OsteoWatch wrote to the EHR for this patient: the WB-MRI findings, study by study.
        lines.push('', 'Imaging findings written back:');
        lines.push(
          r.writeBacks.length
            ? table(
                ['Recorded', 'Study date', 'Study UID', 'Resources'],
                r.writeBacks.map((w) => [
                  w.recordedAt,
                  w.studyDate ?? '—',
                  w.studyUid ?? '—',
                  w.resourceRefs.join(' '),
                ]),
              )
            : '  none',
        );
        if (r.live)
          lines.push(
            '',
            'Live:',
            'error' in r.live ? `  ${r.live.error}` : `  ${r.live.cumulativeMg ?? 'unknown'} mg as of ${r.live.asOf}`,
          );
        out(`${lines.join('\n')}\n`);
      },
    );

  common(
    audit
      .command('crossings')
      .description('Patients whose cumulative dose crossed the threshold in a window, and the WB-MRI that followed'),
  )
    .requiredOption('--from <date>', 'window start (inclusive)')
    .requiredOption('--to <date>', 'window end (exclusive)')
    .option('--threshold <mg>', 'threshold in mg (default 3000)')
    .option('--limit <n>', 'rows per page', '100')
    .option('--cursor <cursor>', 'next page')
    .action(async (o: Common & { from: string; to: string; threshold?: string; limit: string; cursor?: string }) => {
      checkDates(o);
      const r = await withClient(o, (c) =>
        c.crossings({
          from: o.from,
          to: o.to,
          threshold: o.threshold ? Number(o.threshold) : undefined,
          limit: Number(o.limit),
          cursor: o.cursor,
        }),
      );
      if (o.json) return out(`${JSON.stringify(r, null, 2)}\n`);
      if (o.csv) return out(toCsv(r.items, ['patient', 'crossedOn', 'firstWbMri', 'daysToImaging']));
      const s = r.summary;
      out(
        `${table(
          ['Patient', 'Crossed on', 'First WB-MRI', 'Days'],
          r.items.map((i) => [
            i.patient,
            i.crossedOn,
            i.firstWbMri ?? '—',
            i.daysToImaging === null ? '—' : String(i.daysToImaging),
          ]),
        )}\n${s.crossed} crossed ≥ ${r.thresholdMg} mg in [${r.from}, ${r.to}); ${s.imaged} imaged${s.medianDaysToImaging !== null ? `, median ${s.medianDaysToImaging} days` : ''}${r.nextCursor ? `\n(more: --cursor ${r.nextCursor})` : ''}\n`,
      );
    });

  common(audit.command('cards').description('Cards shown and clinician responses, by service and period'))
    .requiredOption('--from <date>', 'window start (inclusive)')
    .requiredOption('--to <date>', 'window end (exclusive)')
    .option('--service <id>', 'one CDS service')
    .option('--limit <n>', 'rows per page', '100')
    .option('--cursor <cursor>', 'next page')
    .action(async (o: Common & { from: string; to: string; service?: string; limit: string; cursor?: string }) => {
      checkDates(o);
      const r = await withClient(o, (c) =>
        c.cards({ from: o.from, to: o.to, service: o.service, limit: Number(o.limit), cursor: o.cursor }),
      );
      if (o.json) return out(`${JSON.stringify(r, null, 2)}\n`);
      if (o.csv)
        return out(
          toCsv(r.items, [
            'shownAt',
            'service',
            'patient',
            'uuid',
            'indicator',
            'response',
            'overrideReason',
            'summary',
          ]),
        );
      const lines = [
        table(
          ['Service', 'Shown', 'Accepted', 'Overridden', 'No response'],
          r.byService.map((s) => [
            s.service,
            String(s.shown),
            String(s.accepted),
            String(s.overridden),
            String(s.noResponse),
          ]),
        ),
      ];
      if (r.overrideReasons.length)
        lines.push(
          '',
          'Override reasons:',
          table(
            ['Service', 'Reason', 'Count'],
            r.overrideReasons.map((x) => [x.service, x.display ?? x.code ?? '(none)', String(x.count)]),
          ),
        );
      out(`${lines.join('\n')}\n`);
    });

  common(audit.command('export').description('FHIR Bundle of AuditEvents (IHE BALP) and Provenance for a period'))
    .requiredOption('--from <date>', 'window start (inclusive)')
    .requiredOption('--to <date>', 'window end (exclusive)')
    .option('--out <file>', 'write to a file')
    .action(async (o: Common & { from: string; to: string; out?: string }) => {
      checkDates(o);
      const bundle = await withClient(o, (c) => c.export({ from: o.from, to: o.to }));
      const text = `${JSON.stringify(bundle, null, 2)}\n`;
      if (o.out) writeFileSync(o.out, text);
      else out(text);
    });
}
