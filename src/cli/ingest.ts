/** `osteowatch ingest FILE --fhir BASE_URL`: write a findings document to a FHIR server (audited), or `--url` through a running service. */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Command, Option } from 'commander';
import { type AuditStore, openAuditStore } from '../audit/store.ts';
import { zodMessage } from '../errors.ts';
import { outcomeText } from '../fhir/outcome.ts';
import { fhirClient } from '../fhir/patientRecords.ts';
import { DicomInputError, readDataset } from '../imaging/dicom.ts';
import { type FindingsDocument, findingsDocumentSchema } from '../imaging/findingsDocument.ts';
import { findingsFromDicom } from '../imaging/fromDicom.ts';
import { writeFindings } from '../imaging/writeBack.ts';
import { CliExit } from './audit.ts';
import { serviceBase, unreachable } from './serviceUrl.ts';

export function addIngestCommand(program: Command, out: (s: string) => void): void {
  program
    .command('ingest')
    .description(
      'Write WB-MRI osteonecrosis findings (the findings JSON document) back to the EHR as profiled FHIR resources',
    )
    .argument('<file>', 'findings document (JSON) or DICOM SR file')
    .option('--fhir <baseUrl>', 'FHIR server to write to directly (recorded in the local audit store)')
    .addOption(new Option('--fhir-token <token>', 'bearer token for --fhir').env('OSTEOWATCH_FHIR_TOKEN'))
    .option('--url <url>', 'post to a running OsteoWatch service instead')
    .addOption(new Option('--token <token>', 'ingest token for --url').env('OSTEOWATCH_INGEST_TOKEN'))
    .addOption(new Option('--database-url <url>', 'PostgreSQL audit store').env('DATABASE_URL'))
    .addOption(new Option('--data-dir <dir>', 'embedded audit store').env('OSTEOWATCH_DATA_DIR').default('./data'))
    .option('--images <dir>', 'for a SEG that segments only the femoral head: the directory of its source MR images')
    .option('--json', 'print JSON')
    .action(
      async (
        file: string,
        o: {
          fhir?: string;
          fhirToken?: string;
          url?: string;
          token?: string;
          databaseUrl?: string;
          dataDir: string;
          images?: string;
          json?: boolean;
        },
      ) => {
        let bytes: Buffer;
        try {
          bytes = readFileSync(file);
        } catch (err) {
          throw new CliExit(
            1,
            `cannot read ${file}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`,
          );
        }
        let parsed: { data: FindingsDocument };
        if (bytes.length > 132 && bytes.toString('latin1', 128, 132) === 'DICM') {
          try {
            parsed = { data: await findingsFromDicom(bytes, o.images ? readSourceImages(o.images) : undefined) };
          } catch (err) {
            if (err instanceof DicomInputError) throw new CliExit(1, `${file}: ${err.message}`);
            throw err;
          }
        } else {
          let json: unknown;
          try {
            json = JSON.parse(bytes.toString('utf8'));
          } catch {
            throw new CliExit(1, `${file} is neither a findings JSON document nor a DICOM file`);
          }
          const r = findingsDocumentSchema.safeParse(json);
          if (!r.success) throw new CliExit(1, `${file} is not a valid findings document: ${zodMessage(r.error)}`);
          parsed = r;
        }
        let result: unknown;
        if (o.url) {
          if (!o.token) throw new CliExit(2, '--url needs --token (or OSTEOWATCH_INGEST_TOKEN)');
          const base = serviceBase(o.url);
          const res = await fetch(`${base}/imaging/findings`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', authorization: `Bearer ${o.token}` },
            body: JSON.stringify(parsed.data),
          }).catch((err) => {
            throw new CliExit(1, unreachable(base, err));
          });
          const body = await res.json().catch(() => ({}));
          if (!res.ok) throw new CliExit(1, `${base} answered ${res.status}: ${outcomeText(body) ?? res.statusText}`);
          result = body;
        } else if (o.fhir) {
          let store: AuditStore;
          try {
            store = await openAuditStore(o.databaseUrl ? { databaseUrl: o.databaseUrl } : { dataDir: o.dataDir });
          } catch (err) {
            throw new CliExit(
              1,
              `cannot open the audit store, so nothing was written (${(err as Error).message}); use --url to write through the running service`,
            );
          }
          try {
            result = await writeFindings(parsed.data, {
              client: fhirClient(o.fhir, o.fhirToken),
              now: new Date(),
              audit: store.audit,
              fhirServer: o.fhir,
              actor: 'cli',
            });
          } finally {
            await store.close();
          }
        } else {
          throw new CliExit(2, 'give --fhir BASE_URL or --url SERVICE_URL');
        }
        const r = result as { outcome: string; observations: string[]; diagnosticReport: string; conclusion: string };
        out(
          o.json
            ? `${JSON.stringify(r, null, 2)}\n`
            : `${r.outcome}: ${r.observations.length} Observations, ${r.diagnosticReport} — ${r.conclusion}\n`,
        );
      },
    );
}

/** Every DICOM file in a directory, naturalized, by SOPInstanceUID. */
function readSourceImages(dir: string): Map<string, Record<string, unknown>> {
  const out = new Map<string, Record<string, unknown>>();
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    throw new CliExit(1, `cannot read the image directory ${dir}`);
  }
  for (const name of names) {
    const bytes = readFileSync(join(dir, name));
    if (bytes.length <= 132 || bytes.toString('latin1', 128, 132) !== 'DICM') continue;
    const ds = readDataset(bytes);
    out.set(String(ds.SOPInstanceUID), ds);
  }
  return out;
}
