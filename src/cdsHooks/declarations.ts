/**
 * The CDS services, each declared once in cds-hooks/services/<id>.json (hook, title, description,
 * usageRequirements, prefetch), validated at start-up. The declaration is what discovery returns.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';

const DIR = fileURLToPath(new URL('../../cds-hooks/services/', import.meta.url));

/** CDS Hooks 2.0 prefetch restrictions: a read, or a type search with reference/token/date params, _count, _sort. */
const PREFETCH =
  /^[A-Z][A-Za-z]+(\/\{\{context\.[a-zA-Z]+\}\}|\?([a-z_][a-z0-9_-]*(:in)?=[^&]+)(&[a-z_][a-z0-9_-]*(:in)?=[^&]+)*)$/;

export const serviceDeclarationSchema = z
  .object({
    hook: z.enum(['patient-view', 'order-select', 'order-sign']),
    id: z.string().regex(/^[A-Za-z0-9-]+$/),
    title: z.string().min(1),
    description: z.string().min(1),
    usageRequirements: z.string().optional(),
    prefetch: z.record(
      z.string().regex(/^[A-Za-z][A-Za-z0-9]*$/),
      z.string().regex(PREFETCH, { error: 'not a CDS Hooks 2.0 prefetch template' }),
    ),
  })
  .strict();

export type ServiceDeclaration = z.infer<typeof serviceDeclarationSchema>;

export function loadServiceDeclarations(dir = DIR): ServiceDeclaration[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => {
      const parsed = serviceDeclarationSchema.safeParse(JSON.parse(readFileSync(`${dir}${f}`, 'utf8')));
      if (!parsed.success)
        throw new Error(
          `cds-hooks/services/${f}: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
        );
      if (`${parsed.data.id}.json` !== f) throw new Error(`cds-hooks/services/${f}: file name must be the service id`);
      return parsed.data;
    });
}
