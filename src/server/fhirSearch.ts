/**
 * Type-level search as a FHIR server answers it (https://hl7.org/fhir/R4/search.html), in front of Medplum's
 * in-memory search: parameters from the URL and from a POSTed form combined, each checked against what the server
 * supports (searchParams.ts), unknown ones ignored or, under `Prefer: handling=strict`, refused; the page size
 * capped; and the Bundle given its paging links and, for _summary=count, only its total.
 */
import type { Bundle, BundleLink, OperationOutcome } from '@medplum/fhirtypes';
import { operationOutcome } from '../fhir/outcome.ts';
import { FHIR_ID_PATTERN } from '../terminology/fhirId.ts';
import { MODIFIERS, patientSearchIsSubject, type SupportedParam, supportedSearchParams } from './searchParams.ts';

export interface SearchPlan {
  resourceType: string;
  /**
   * The parameters used, as the client sent them, for Bundle.link; paging is added by finishSearchBundle. The self link
   * shows the search as the client asked it (https://hl7.org/fhir/R4/search.html#conformance: the parameters the
   * server used), not the equivalent one run for speed (fastPatient), so that next/previous repeat it as asked.
   */
  used: Array<[string, string]>;
  /** The query string handed to Medplum's router. */
  query: string;
  pageSize: number;
  offset: number;
  /** _summary=count or _count=0: the total only (https://hl7.org/fhir/R4/search.html#summary). */
  countOnly: boolean;
  /** Why each ignored parameter was ignored (lenient handling). */
  ignored: string[];
}

export interface SearchLimits {
  defaultPageSize: number;
  maxPageSize: number;
}

/**
 * The result parameters (https://hl7.org/fhir/R4/search.html#return) Medplum's search request parser understands,
 * with the values they take. _contained and _containedType are not among them: Medplum would read them as filters.
 */
const RESULT_PARAMS: Record<string, RegExp | undefined> = {
  _count: /^\d+$/,
  _offset: /^\d+$/,
  _sort: undefined,
  _include: undefined,
  _revinclude: undefined,
  _summary: /^(true|text|data|count|false)$/,
  _elements: undefined,
  _total: /^(none|estimate|accurate)$/,
  _format: /^(json|application\/json|application\/fhir\+json|application\/json\+fhir)$/,
  _pretty: /^(true|false)$/,
};

/** `Prefer: handling=strict` (https://hl7.org/fhir/R4/search.html#errors); lenient is the default. */
export function strictHandling(prefer: string | undefined): boolean {
  return (prefer ?? '').split(/[,;]/).some((p) => p.replace(/\s+/g, '').toLowerCase() === 'handling=strict');
}

type Verdict =
  | { use: [string, string] }
  | { unknown: string }
  | { reject: string }
  | { use: [string, string]; query: [string, string] };

const split = (key: string): [string, string] => {
  const i = key.indexOf(':');
  return i < 0 ? [key, ''] : [key.slice(0, i), key.slice(i + 1)];
};

const unsupportedModifier = (code: string, modifier: string): Verdict => ({
  reject: `The "${code}" parameter has the modifier "${modifier}" which is not supported by this server`,
});

/** A chained parameter (https://hl7.org/fhir/R4/search.html#chaining), one level deep as Medplum evaluates it. */
function checkChain(params: ReadonlyMap<string, SupportedParam>, type: string, key: string, value: string): Verdict {
  const dot = key.indexOf('.');
  const [code, targetType] = split(key.slice(0, dot));
  const [chained, modifier] = split(key.slice(dot + 1));
  const ref = params.get(code);
  if (ref?.type !== 'reference') return { unknown: `Unknown search parameter "${code}" for ${type}` };
  if (targetType && !ref.targets.includes(targetType)) return unsupportedModifier(code, targetType);
  if (chained.includes('.')) return { unknown: `Chains of more than one link are not supported ("${key}")` };
  const found = (targetType ? [targetType] : ref.targets)
    .map((t) => supportedSearchParams(t).get(chained))
    .filter((p) => p !== undefined);
  if (!found.length) return { unknown: `Unknown search parameter "${chained}" in the chain "${key}"` };
  if (modifier && !found.some((p) => MODIFIERS[p.type].includes(modifier)))
    return unsupportedModifier(chained, modifier);
  return { use: [key, value] };
}

function check(params: ReadonlyMap<string, SupportedParam>, type: string, key: string, value: string): Verdict {
  if (key.includes('.') && !key.startsWith('_')) return checkChain(params, type, key, value);
  const [code, modifier] = split(key);
  if (Object.hasOwn(RESULT_PARAMS, code)) {
    if (modifier && !(modifier === 'iterate' && (code === '_include' || code === '_revinclude')))
      return unsupportedModifier(code, modifier);
    if (!(RESULT_PARAMS[code]?.test(value) ?? true)) return { unknown: `Unsupported value "${value}" for ${code}` };
    if (code === '_sort') {
      const unsortable = value.split(',').find((s) => !params.has(s.replace(/^-/, '')));
      if (unsortable !== undefined) return { unknown: `Unknown search parameter "${unsortable}" in _sort for ${type}` };
    }
    return { use: [key, value] };
  }
  const param = params.get(code);
  if (!param) return { unknown: `Unknown search parameter "${code}" for ${type}` };
  if (!modifier || MODIFIERS[param.type].includes(modifier)) return { use: [key, value] };
  // `subject:Patient=123` means `subject=Patient/123`, which is how Medplum's matcher reads a typed reference.
  if (param.type === 'reference' && param.targets.includes(modifier)) {
    const typed = value
      .split(',')
      .map((v) => (v.includes('/') ? v : `${modifier}/${v}`))
      .join(',');
    return { use: [key, value], query: [code, typed] };
  }
  return unsupportedModifier(code, modifier);
}

/** A FHIR id (https://hl7.org/fhir/R4/datatypes.html#id), bare or as a Patient reference. */
const PATIENT_VALUE = new RegExp(`^(?:Patient/)?${FHIR_ID_PATTERN}$`);

/**
 * `patient=<id>` as `subject=Patient/<id>`, for the types whose `patient` is `subject` restricted to Patients
 * (patientSearchIsSubject). Both find the same resources, but Medplum's in-memory search evaluates `patient` through
 * the whole R4 clinical-patient union with a resolve() per term on every resource of the type: seconds for the
 * demo's MedicationStatements, where `subject` takes milliseconds. Only the plain parameter is rewritten (and
 * `patient:Patient`, which check() has already turned into `patient=Patient/<id>`), and only when every value of
 * its OR list is an id or Patient/<id>; a modifier, a chain or any other value is left to Medplum as it was.
 * The one difference is on references that are not `Patient/<id>`, where Medplum's `patient=<id>` compares the
 * reference's last segment (so `Patient/1/_history/2` would match `patient=2`); `subject` compares the whole
 * reference. The rewrite is in the query only: the Bundle's links keep the client's own parameters.
 */
function fastPatient(resourceType: string, [key, value]: [string, string]): [string, string] {
  if (key !== 'patient' || !patientSearchIsSubject(resourceType)) return [key, value];
  const values = value.split(',');
  if (!values.every((v) => PATIENT_VALUE.test(v))) return [key, value];
  return ['subject', values.map((v) => (v.startsWith('Patient/') ? v : `Patient/${v}`)).join(',')];
}

function refusal(text: string, key: string): OperationOutcome {
  const outcome = operationOutcome('not-supported', text);
  outcome.issue[0]!.location = [`http.${key}`];
  return outcome;
}

/** The search to run, or the OperationOutcome (400) that refuses it. */
export function planSearch(
  resourceType: string,
  pairs: Iterable<[string, string]>,
  strict: boolean,
  limits: SearchLimits,
): SearchPlan | OperationOutcome {
  const params = supportedSearchParams(resourceType);
  const used: Array<[string, string]> = [];
  const query = new URLSearchParams();
  const ignored: string[] = [];
  let count: number | undefined;
  let offset = 0;
  let summaryCount = false;
  for (const [key, value] of pairs) {
    const verdict = check(params, resourceType, key, value);
    if ('reject' in verdict) return refusal(verdict.reject, key);
    if ('unknown' in verdict) {
      if (strict) return refusal(verdict.unknown, key);
      ignored.push(verdict.unknown);
      continue;
    }
    if (key === '_count') count = Number(value);
    else if (key === '_offset') offset = Number(value);
    else {
      if (key === '_summary') summaryCount = value === 'count';
      used.push(verdict.use);
      query.append(...fastPatient(resourceType, 'query' in verdict ? verdict.query : verdict.use));
    }
  }
  // _count=0 asks for no resources: the same answer as _summary=count, and no next link that never advances.
  const countOnly = summaryCount || count === 0;
  if (count === 0 && !summaryCount) used.push(['_count', '0']);
  const pageSize = countOnly ? 0 : Math.min(count ?? limits.defaultPageSize, limits.maxPageSize);
  if (countOnly) offset = 0;
  query.set('_count', String(pageSize));
  query.set('_offset', String(offset));
  // Medplum's in-memory search always counts; ask for it anyway, and always when the count is all that is wanted.
  if (countOnly || !query.has('_total')) query.set('_total', 'accurate');
  return { resourceType, used, query: query.toString(), pageSize, offset, countOnly, ignored };
}

/**
 * Shapes Medplum's searchset: Bundle.link self (the parameters used), next and previous as GET URLs whatever
 * method the search came by (https://hl7.org/fhir/R4/http.html#paging), no entries for a count, and a warning
 * entry naming what was ignored (https://hl7.org/fhir/R4/search.html#errors).
 */
export function finishSearchBundle(bundle: Bundle, plan: SearchPlan, typeUrl: string): void {
  const link = (relation: string, offset?: number): BundleLink => {
    const p = new URLSearchParams(plan.used);
    if (offset !== undefined) {
      p.set('_count', String(plan.pageSize));
      p.set('_offset', String(offset));
    }
    const qs = p.toString();
    return { relation, url: qs ? `${typeUrl}?${qs}` : typeUrl };
  };
  if (plan.countOnly) {
    delete bundle.entry;
    bundle.link = [link('self')];
    return;
  }
  const links = [link('self', plan.offset)];
  const returned = bundle.entry?.filter((e) => e.search?.mode !== 'include').length ?? 0;
  const total = bundle.total;
  if ((total !== undefined && plan.offset + returned < total) || (total === undefined && returned === plan.pageSize))
    links.push(link('next', plan.offset + plan.pageSize));
  if (plan.offset > 0) links.push(link('previous', Math.max(0, plan.offset - plan.pageSize)));
  bundle.link = links;
  if (plan.ignored.length) {
    const warning: OperationOutcome = {
      resourceType: 'OperationOutcome',
      issue: plan.ignored.map((text) => ({ severity: 'warning', code: 'not-supported', details: { text } })),
    };
    bundle.entry = [...(bundle.entry ?? []), { resource: warning, search: { mode: 'outcome' } }];
  }
}
