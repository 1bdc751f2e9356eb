/** Writes each CDS service's discovery entry (src/cdsHooks/services/) to cds-hooks/services/<id>.json. */
import { writeFileSync } from 'node:fs';
import { discoveryEntry } from '../src/cdsHooks/serviceDefinition.ts';
import { CDS_SERVICES } from '../src/cdsHooks/services/index.ts';

const out = new URL('../cds-hooks/services/', import.meta.url);
for (const s of CDS_SERVICES) {
  writeFileSync(new URL(`${s.id}.json`, out), `${JSON.stringify(discoveryEntry(s), null, 2)}\n`);
  console.log(`wrote cds-hooks/services/${s.id}.json`);
}
