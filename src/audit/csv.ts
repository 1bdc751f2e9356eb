/**
 * RFC 4180 CSV for the audit reports and the worklist. Text from outside (a patient id, a clinician's override
 * reason, a hook's user) could start with a formula character: a spreadsheet opening the file would run it
 * ("CSV injection", https://owasp.org/www-community/attacks/CSV_Injection). Such a text cell is prefixed with
 * an apostrophe, which spreadsheets show as text; numbers are written as they are.
 */
const FORMULA_START = /^[=+\-@\t\r]/;

export function csvCell(v: unknown): string {
  if (v === null || v === undefined) return '';
  let s = typeof v === 'object' ? JSON.stringify(v) : String(v);
  if (typeof v === 'string' && FORMULA_START.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function toCsv<T extends object>(rows: readonly T[], columns: Array<keyof T & string>): string {
  return `${[columns.join(','), ...rows.map((r) => columns.map((c) => csvCell((r as Record<string, unknown>)[c])).join(','))].join('\r\n')}\r\n`;
}
