/**
 * A run's load issue as one line of text, for the CLI's summary and the dashboard alike: severity, where (the
 * export file's type and line), what. Pure, with no imports but types, so that the dashboard bundles it.
 */
import type { LoadIssue } from './types.ts';

export function loadIssueText(i: LoadIssue): string {
  const where = i.file ? ` ${i.file}${i.line ? `:${i.line}` : ''}` : '';
  return `${i.severity}${where}: ${i.message}`;
}
