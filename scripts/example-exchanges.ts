/**
 * Writes example CDS Hooks exchanges to cds-hooks/examples/: real requests sent to the real service (in
 * process, fixed date) and the responses it gave. A test checks they still match what the service says.
 */
import { writeFileSync } from 'node:fs';
import { exampleExchanges } from '../tests/helpers/exchanges.ts';

const dir = new URL('../cds-hooks/examples/', import.meta.url);
for (const ex of await exampleExchanges()) {
  writeFileSync(new URL(`${ex.name}.request.json`, dir), `${JSON.stringify(ex.request, null, 2)}\n`);
  writeFileSync(new URL(`${ex.name}.response.json`, dir), `${JSON.stringify(ex.response, null, 2)}\n`);
  console.log(`wrote cds-hooks/examples/${ex.name}.{request,response}.json`);
}
process.exit(0);
