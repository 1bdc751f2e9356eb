/** Writes the FHIR conformance resources defined in src/profiles/catalog.ts to profiles/. */
import { writeFileSync } from 'node:fs';
import { conformanceResources, fileNameOf } from '../src/profiles/catalog.ts';

const out = new URL('../profiles/', import.meta.url);
for (const r of conformanceResources()) {
  writeFileSync(new URL(fileNameOf(r), out), `${JSON.stringify(r, null, 2)}\n`);
  console.log(`wrote profiles/${fileNameOf(r)}`);
}
