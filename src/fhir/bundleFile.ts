/**
 * Reads FHIR resources from a file: a Bundle (searchset, collection, transaction, batch), a single resource,
 * or NDJSON (one resource per line, as Bulk Data export writes it). Errors name the file and the line.
 */
import { readFileSync } from 'node:fs';
import type { Bundle, Resource } from '@medplum/fhirtypes';
import { z } from 'zod';

export class InputError extends Error {}

const resourceSchema = z.looseObject({
  resourceType: z.string().regex(/^[A-Z][A-Za-z]+$/, { error: 'resourceType must be a FHIR resource type name' }),
});
const bundleSchema = z.looseObject({
  resourceType: z.literal('Bundle'),
  entry: z
    .array(z.looseObject({ fullUrl: z.string().optional(), resource: resourceSchema.optional() }), {
      error: 'Bundle.entry must be an array',
    })
    .optional(),
});

export interface LoadedResources {
  resources: Resource[];
  fullUrls: Map<Resource, string>;
}

function describe(error: z.ZodError): string {
  return error.issues.map((i) => `${i.path.length ? `${i.path.join('.')}: ` : ''}${i.message}`).join('; ');
}

export function parseResources(text: string, name = 'input'): LoadedResources {
  const trimmed = text.trim();
  if (trimmed === '') throw new InputError(`${name} is empty`);
  const fullUrls = new Map<Resource, string>();
  let whole: unknown;
  let wholeError: Error | undefined;
  try {
    whole = JSON.parse(trimmed);
  } catch (err) {
    wholeError = err as Error;
  }
  if (whole !== undefined) {
    if (Array.isArray(whole))
      throw new InputError(`${name}: a JSON array is not a FHIR Bundle; wrap the resources in a Bundle or use NDJSON`);
    const base = resourceSchema.safeParse(whole);
    if (!base.success) throw new InputError(`${name} is not a FHIR resource: ${describe(base.error)}`);
    if (base.data.resourceType !== 'Bundle') return { resources: [whole as Resource], fullUrls };
    const bundle = bundleSchema.safeParse(whole);
    if (!bundle.success) throw new InputError(`${name} is not a valid Bundle: ${describe(bundle.error)}`);
    const resources: Resource[] = [];
    for (const e of (whole as Bundle).entry ?? []) {
      if (!e.resource) continue;
      resources.push(e.resource);
      if (e.fullUrl) fullUrls.set(e.resource, e.fullUrl);
    }
    return { resources, fullUrls };
  }
  // Not one JSON document: NDJSON, one resource per line.
  const lines = trimmed.split(/\r?\n/);
  if (lines.length === 1) throw new InputError(`${name} is not valid JSON: ${wholeError?.message}`);
  const resources: Resource[] = [];
  for (const [i, line] of lines.entries()) {
    if (line.trim() === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (err) {
      throw new InputError(`${name} line ${i + 1} is not valid JSON: ${(err as Error).message}`);
    }
    const parsed = resourceSchema.safeParse(value);
    if (!parsed.success)
      throw new InputError(`${name} line ${i + 1} is not a FHIR resource: ${describe(parsed.error)}`);
    resources.push(value as Resource);
  }
  return { resources, fullUrls };
}

export function readResourceFile(path: string): LoadedResources {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new InputError(
      code === 'ENOENT'
        ? `cannot read ${path}: no such file`
        : code === 'EISDIR'
          ? `cannot read ${path}: it is a directory`
          : `cannot read ${path}: ${(err as Error).message}`,
    );
  }
  return parseResources(text, path);
}
