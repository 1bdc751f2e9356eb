/** The published record shapes of tests/fixtures/exposure/ (README.md there names each file's source). */
import { readdirSync, readFileSync } from 'node:fs';
import type { Bundle, Resource } from '@medplum/fhirtypes';

export const FIXTURE_DIR = new URL('../fixtures/exposure/', import.meta.url);

/** The resources of a fixture file: a Bundle's entries, an array, or the one resource. A fresh copy each time. */
export function fixture(name: string): Resource[] {
  const json = JSON.parse(readFileSync(new URL(name, FIXTURE_DIR), 'utf8')) as Resource | Resource[];
  if (Array.isArray(json)) return json;
  if (json.resourceType === 'Bundle')
    return ((json as Bundle).entry ?? []).flatMap((e) => (e.resource ? [e.resource] : []));
  return [json];
}

/** The one resource of a single-resource fixture, typed. */
export function one<T extends Resource>(name: string): T {
  return fixture(name)[0] as T;
}

export function fixtureNames(): string[] {
  return readdirSync(FIXTURE_DIR)
    .filter((n) => n.endsWith('.json'))
    .sort();
}
