/** `osteowatch hook <hook> --patient ID`: sign and send a real CDS Hooks request to a running service, print the cards. */
import { randomUUID } from 'node:crypto';
import { type Command, Option } from 'commander';
import { readDemoClientKey, signClientJwt } from '../cdsHooks/demoClient.ts';
import { CliExit } from './audit.ts';
import { serviceBase, unreachable } from './serviceUrl.ts';

const SERVICE: Record<string, string> = {
  'patient-view': 'osteonecrosis-screening',
  'order-select': 'glucocorticoid-order-select',
  'order-sign': 'glucocorticoid-order-sign',
};

interface Card {
  indicator: string;
  summary: string;
  detail?: string;
  suggestions?: Array<{ label: string }>;
}

export function addHookCommand(program: Command, out: (s: string) => void): void {
  program
    .command('hook')
    .description(
      'Send a signed CDS Hooks request to a running OsteoWatch (the demo trusts its own client key) and print the cards',
    )
    .argument('<hook>', 'patient-view | order-select | order-sign')
    .requiredOption('--patient <id>', 'Patient id')
    .addOption(new Option('--url <url>', 'the running service').env('OSTEOWATCH_URL').default('http://127.0.0.1:8080'))
    .addOption(
      new Option('--data-dir <dir>', 'where the demo client key is').env('OSTEOWATCH_DATA_DIR').default('./data'),
    )
    .option('--fhir <baseUrl>', 'fhirServer to send (default: the service’s own /fhir)')
    .option('--user <ref>', 'context.userId', 'Practitioner/demo')
    .option('--draft <file>', 'order-select/order-sign: a JSON file with a draft MedicationRequest or a Bundle of them')
    .option('--json', 'print the raw response')
    .action(
      async (
        hook: string,
        o: {
          patient: string;
          url: string;
          dataDir: string;
          fhir?: string;
          user: string;
          draft?: string;
          json?: boolean;
        },
      ) => {
        const service = SERVICE[hook];
        if (!service) throw new CliExit(2, `unknown hook "${hook}"; use patient-view, order-select or order-sign`);
        const key = readDemoClientKey(o.dataDir);
        if (!key)
          throw new CliExit(
            1,
            `no demo client key in ${o.dataDir}; start the demo (npm start) first, or pass --data-dir`,
          );
        const base = serviceBase(o.url);
        const url = `${base}/cds-services/${service}`;
        const context: Record<string, unknown> = { userId: o.user, patientId: o.patient.replace(/^Patient\//, '') };
        if (hook !== 'patient-view') {
          const { readFileSync } = await import('node:fs');
          const draft = o.draft ? JSON.parse(readFileSync(o.draft, 'utf8')) : undefined;
          const entries: Array<{ resource: Record<string, unknown> }> =
            draft?.resourceType === 'Bundle' ? draft.entry : draft ? [{ resource: draft }] : [];
          // Draft orders belong to the patient in context.
          for (const e of entries) e.resource.subject = { reference: `Patient/${context.patientId}` };
          context.draftOrders = { resourceType: 'Bundle', type: 'collection', entry: entries };
          if (hook === 'order-select')
            context.selections = entries.map((e) => `${String(e.resource.resourceType)}/${String(e.resource.id)}`);
        }
        const body = { hook, hookInstance: randomUUID(), fhirServer: o.fhir ?? `${base}/fhir`, context };
        let res: Response;
        try {
          res = await fetch(url, {
            method: 'POST',
            headers: { 'content-type': 'application/json', authorization: `Bearer ${await signClientJwt(key, url)}` },
            body: JSON.stringify(body),
          });
        } catch (err) {
          throw new CliExit(1, unreachable(base, err));
        }
        const json = (await res.json().catch(() => ({}))) as {
          cards?: Card[];
          issue?: Array<{ details?: { text?: string } }>;
        };
        if (!res.ok)
          throw new CliExit(
            1,
            `${url} answered ${res.status}${json.issue?.[0]?.details?.text ? `: ${json.issue[0].details.text}` : ''}`,
          );
        if (o.json) return out(`${JSON.stringify(json, null, 2)}\n`);
        const cards = json.cards ?? [];
        if (!cards.length) return out('No cards.\n');
        for (const c of cards) {
          out(`[${c.indicator}] ${c.summary}\n`);
          for (const s of c.suggestions ?? []) out(`  → suggestion: ${s.label}\n`);
        }
      },
    );
}
