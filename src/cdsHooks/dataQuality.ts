/** The engine's issues as sentences a clinician reads on a card ("2 MedicationStatements without a dose were not counted"). */
import type { ExposureSummary } from '../exposure/index.ts';
import { plural } from './format.ts';

const NOT_COUNTED: Record<string, string> = {
  'no-dose': 'without a dose',
  'unknown-day-of-week': 'with a day of the week that is not one',
  'frequency-implausible': 'with more than 100 doses a day',
  'date-implausible': 'dated before 1900',
  'no-dosage': 'without a dose',
  'dose-unit-unknown': 'with a dose unit that is not a mass, volume or tablet count',
  'weight-based-dose': 'dosed by body weight',
  'strength-unknown': 'whose tablet or liquid strength is unknown',
  'status-unknown': 'with status unknown',
  'status-on-hold': 'on hold',
  'duration-unknown': 'without an end date or duration',
  'no-start-date': 'without a start date',
  'period-without-unit': 'with an incomplete frequency',
  'unknown-period-unit': 'with an unreadable frequency',
  'unknown-timing-code': 'with an unknown frequency code',
  'step-without-bounds': 'with a taper step of unknown length',
  'infusion-duration-unknown': 'with an infusion of unknown duration',
  'medication-unresolved': 'whose medication could not be found',
  'medication-unidentified': 'whose medication could not be identified',
  'no-equivalence-factor': 'of a glucocorticoid with no prednisolone equivalence',
  'as-needed': 'taken as needed',
  'dose-implausible': 'with an implausible dose',
  'stopped-without-end': 'stopped without an end date',
};

const ASSUMED: Record<string, string> = {
  'timing-assumed-once-daily': 'no frequency (counted once daily)',
  'dose-range': 'a dose range (counted at its upper bound)',
  'frequency-range': 'a frequency range (counted at its upper bound)',
  'as-needed': 'as-needed doses (counted as scheduled)',
  'ingredient-from-text': 'the drug named only in text',
  'route-unknown': 'no route, or one not recognised (counted as systemic)',
  'route-flagged': 'a local injection route (counted)',
  'split-dosage': 'doses split over the day (read as one day’s doses)',
  'bounds-after-validity': 'doses after the order’s validity end (not counted)',
  'contained-reference-in-bundle': 'a medication referenced as contained but found beside it in the Bundle',
  'strength-conflict': 'a strength whose text and structure disagree (the structure was used)',
  'dose-unit-unknown': 'a dose without a unit (counted as tablets of the product’s strength)',
};

export function dataQualitySentences(x: ExposureSummary): string[] {
  const typeOf = (source: string) => source.split('/')[0] ?? 'record';
  const groups = new Map<string, { n: number; type: string; code: string; error: boolean }>();
  for (const i of x.issues) {
    if (i.severity === 'info') continue;
    const error = i.severity === 'error';
    const key = `${error}|${i.code}|${typeOf(i.source)}`;
    const g = groups.get(key) ?? { n: 0, type: typeOf(i.source), code: i.code, error };
    g.n++;
    groups.set(key, g);
  }
  const out: string[] = [];
  for (const g of groups.values()) {
    if (g.error)
      out.push(
        `${plural(g.n, g.type)} ${NOT_COUNTED[g.code] ?? `with a problem (${g.code})`} ${g.n === 1 ? 'was' : 'were'} not counted.`,
      );
  }
  for (const g of groups.values()) {
    if (!g.error && ASSUMED[g.code]) out.push(`${plural(g.n, g.type)} with ${ASSUMED[g.code]}.`);
  }
  if (x.issues.some((i) => i.code === 'budesonide-excluded'))
    out.push('Budesonide exposure is present and not counted.');
  return out;
}
