/** Writes the FHIR conformance resources that are derived in code to profiles/. */
import { writeFileSync } from 'node:fs';
import { wbMriServiceRequestProfile } from '../src/profiles/wbMriServiceRequest.ts';

const out = new URL('../profiles/', import.meta.url);
const sd = wbMriServiceRequestProfile();
writeFileSync(new URL(`StructureDefinition-${sd.id}.json`, out), `${JSON.stringify(sd, null, 2)}\n`);
console.log(`wrote profiles/StructureDefinition-${sd.id}.json (${sd.snapshot!.element.length} snapshot elements)`);
