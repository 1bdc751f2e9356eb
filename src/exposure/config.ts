/**
 * Exposure configuration: equivalence, threshold, route, budesonide and range policies.
 * Defaults are those of the README (Configuration); each can be overridden from a JSON file or environment, validated here with
 * messages that say which setting is wrong and what it accepts.
 */
import { z } from 'zod';
import { OsteoWatchError, zodIssues } from '../errors.ts';
import { ROUTE_CLASSES, type RouteClass } from './routes.ts';

export const ROUTE_POLICIES = ['count', 'count-flag', 'exclude', 'exclude-flag'] as const;
export type RoutePolicy = (typeof ROUTE_POLICIES)[number];

const positiveMg = (what: string) =>
  z
    .number({ error: `${what} must be a number of milligrams` })
    .positive({ error: `${what} must be greater than 0 mg` });

const routePolicySchema = z.enum(ROUTE_POLICIES, {
  error: (i) => `route policy ${JSON.stringify(i.input)} is not one of ${ROUTE_POLICIES.join(', ')}`,
});

export const exposureConfigSchema = z
  .object({
    /** mg of each ingredient equivalent to prednisolone 5 mg. */
    equivalentToPrednisolone5mg: z
      .object({
        prednisolone: positiveMg('equivalentToPrednisolone5mg.prednisolone'),
        prednisone: positiveMg('equivalentToPrednisolone5mg.prednisone'),
        methylprednisolone: positiveMg('equivalentToPrednisolone5mg.methylprednisolone'),
        hydrocortisone: positiveMg('equivalentToPrednisolone5mg.hydrocortisone'),
        cortisone: positiveMg('equivalentToPrednisolone5mg.cortisone'),
        dexamethasone: positiveMg('equivalentToPrednisolone5mg.dexamethasone'),
        betamethasone: positiveMg('equivalentToPrednisolone5mg.betamethasone'),
        triamcinolone: positiveMg('equivalentToPrednisolone5mg.triamcinolone'),
        deflazacort: positiveMg('equivalentToPrednisolone5mg.deflazacort'),
      })
      .strict(),
    /** Cumulative prednisolone-equivalent dose at which baseline WB-MRI screening is due (half-open: ≥). */
    thresholdMg: positiveMg('thresholdMg'),
    routePolicy: z.record(
      z.enum(ROUTE_CLASSES, {
        error: (i) => `unknown route class ${JSON.stringify(i.input)}; use one of ${ROUTE_CLASSES.join(', ')}`,
      }),
      routePolicySchema,
    ),
    budesonide: z.union(
      [
        z.object({ policy: z.literal('exclude') }).strict(),
        z
          .object({
            policy: z.literal('count'),
            equivalentToPrednisolone5mg: positiveMg('budesonide.equivalentToPrednisolone5mg'),
          })
          .strict(),
      ],
      {
        error:
          'budesonide must be { "policy": "exclude" } or { "policy": "count", "equivalentToPrednisolone5mg": <mg> }',
      },
    ),
    /** How dose, frequency and count ranges are counted: upper bound (CDC default, safety side) or midpoint. */
    rangePolicy: z.enum(['upper', 'mid'], { error: 'rangePolicy must be "upper" or "mid"' }),
    /** PRN (asNeeded) doses: counted as if scheduled, or not counted; flagged either way. */
    asNeededPolicy: z.enum(['count', 'exclude'], { error: 'asNeededPolicy must be "count" or "exclude"' }),
  })
  .strict();

export type ExposureConfig = z.infer<typeof exposureConfigSchema> & { routePolicy: Record<RouteClass, RoutePolicy> };

export const DEFAULT_ROUTE_POLICY: Record<RouteClass, RoutePolicy> = {
  oral: 'count',
  intravenous: 'count',
  intramuscular: 'count',
  subcutaneous: 'count',
  enteral: 'count',
  'injection-unspecified': 'count',
  'depot-injection': 'count-flag',
  'intra-articular': 'count-flag',
  epidural: 'count-flag',
  rectal: 'count-flag',
  oromucosal: 'count-flag',
  inhaled: 'exclude-flag',
  nasal: 'exclude',
  topical: 'exclude',
  ophthalmic: 'exclude',
  otic: 'exclude',
  unknown: 'count-flag',
};

export const DEFAULT_EXPOSURE_CONFIG: ExposureConfig = {
  equivalentToPrednisolone5mg: {
    prednisolone: 5,
    prednisone: 5,
    methylprednisolone: 4,
    hydrocortisone: 20,
    cortisone: 25,
    dexamethasone: 0.75,
    betamethasone: 0.75,
    triamcinolone: 4,
    deflazacort: 6,
  },
  thresholdMg: 3000,
  routePolicy: DEFAULT_ROUTE_POLICY,
  budesonide: { policy: 'exclude' },
  rangePolicy: 'upper',
  asNeededPolicy: 'count',
};

export class ConfigError extends OsteoWatchError {
  readonly problems: string[];
  constructor(problems: string[]) {
    super('config', `Invalid exposure configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.problems = problems;
  }
}

type DeepPartial<T> = { [K in keyof T]?: T[K] extends object ? DeepPartial<T[K]> : T[K] };

/** Merges overrides onto the defaults and validates the result; throws ConfigError listing every problem. */
export function resolveExposureConfig(overrides: unknown = {}): ExposureConfig {
  if (overrides === null || typeof overrides !== 'object' || Array.isArray(overrides))
    throw new ConfigError(['the exposure configuration must be a JSON object']);
  const o = overrides as DeepPartial<ExposureConfig>;
  const merged = {
    ...DEFAULT_EXPOSURE_CONFIG,
    ...o,
    equivalentToPrednisolone5mg: {
      ...DEFAULT_EXPOSURE_CONFIG.equivalentToPrednisolone5mg,
      ...(o.equivalentToPrednisolone5mg ?? {}),
    },
    routePolicy: { ...DEFAULT_EXPOSURE_CONFIG.routePolicy, ...(o.routePolicy ?? {}) },
  };
  const result = exposureConfigSchema.safeParse(merged);
  if (!result.success) {
    throw new ConfigError(zodIssues(result.error));
  }
  return result.data as ExposureConfig;
}
