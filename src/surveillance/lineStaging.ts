/**
 * The patient of an exported record read off its NDJSON line without parsing it, for the common shape
 * (`{"resourceType":"X",…,"subject":{"reference":"Patient/id"…},…}`): the load stages most lines this way and
 * leaves JSON.parse to where the patient is evaluated, so that each line is parsed once per run instead of twice.
 *
 * Exact or silent: an answer is what `stagingOf(JSON.parse(line))` gives for the same line, and any line this
 * reading cannot vouch for gets no answer (undefined) and is parsed as before. It vouches only for lines with no
 * backslash (every quote then delimits a string, so strings are skipped whole), brackets balanced, the
 * resourceType first and once, and at the top level one `subject` written as a relative Patient reference and
 * neither `patient` nor `medicationReference`. A line cut short in transit does not end with `}` and is parsed
 * (and reported) as before; a line that is otherwise broken is found where it is parsed, and is then that
 * patient's error, never a record dropped.
 */
import { FHIR_ID } from '../terminology/fhirId.ts';

const PREFIX = '{"resourceType":"';
const SUBJECT = '"subject":{"reference":"Patient/';
const DISPLAY = ',"display":"';
const QUOTE = 34;
const OPEN_BRACE = 123;
const CLOSE_BRACE = 125;
const OPEN_BRACKET = 91;
const CLOSE_BRACKET = 93;
const COMMA = 44;

/**
 * The patient id of the record on this line, when the line's text says it beyond doubt and its type is one of
 * `types` (those staged with no other condition: no code filter to check); undefined otherwise.
 */
export function patientOfLine(text: string, types: ReadonlySet<string>): string | undefined {
  if (!text.startsWith(PREFIX) || text.charCodeAt(text.length - 1) !== CLOSE_BRACE) return undefined;
  const typeEnd = text.indexOf('"', PREFIX.length);
  // No backslash (see above), and no NUL: JSON.parse refuses a raw one, and the database would refuse the staged
  // line (with it the whole insert and the load), where the parse reports that line alone.
  if (typeEnd < 0 || !types.has(text.slice(PREFIX.length, typeEnd)) || text.includes('\\') || text.includes('\0'))
    return undefined;
  const at = subjectKeyAt(text);
  if (at < 0 || !text.startsWith(SUBJECT, at)) return undefined;
  const idStart = at + SUBJECT.length;
  const idEnd = text.indexOf('"', idStart);
  if (idEnd < 0) return undefined;
  const id = text.slice(idStart, idEnd);
  if (!FHIR_ID.test(id)) return undefined;
  // The reference object ends here, or after its display (a second "reference" in it would be the one JSON.parse keeps).
  let end = idEnd + 1;
  if (text.startsWith(DISPLAY, end)) {
    const displayEnd = text.indexOf('"', end + DISPLAY.length);
    if (displayEnd < 0) return undefined;
    end = displayEnd + 1;
  }
  return text.charCodeAt(end) === CLOSE_BRACE ? id : undefined;
}

/**
 * Where the top-level "subject" key starts, walking the line once (strings skipped whole: without backslashes,
 * the next quote ends a string); -1 when the line is unbalanced or its top level has no subject, two of them, a
 * second resourceType, or a key that changes what the parse would stage (patient, medicationReference). Keys
 * below the top level (a contained resource's subject) are not the record's.
 */
function subjectKeyAt(text: string): number {
  let depth = 0;
  let keyNext = false;
  let subject = -1;
  let types = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      const end = text.indexOf('"', i + 1);
      if (end < 0) return -1;
      if (keyNext) {
        const key = text.slice(i + 1, end);
        if (key === 'subject') {
          if (subject >= 0) return -1;
          subject = i;
        } else if (key === 'resourceType') {
          if (++types > 1) return -1;
        } else if (key === 'patient' || key === 'medicationReference') return -1;
      }
      keyNext = false;
      i = end;
    } else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      depth++;
      keyNext = depth === 1;
    } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) depth--;
    else if (c === COMMA) keyNext = depth === 1;
  }
  return depth === 0 ? subject : -1;
}
