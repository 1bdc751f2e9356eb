import type { OperationOutcome } from '@medplum/fhirtypes';
import type { IssueType } from '../errors.ts';

/** An OperationOutcome with one error issue: the body of every 4xx/5xx this service returns. */
export function operationOutcome(code: IssueType, text: string, expression?: string[]): OperationOutcome {
  return {
    resourceType: 'OperationOutcome',
    issue: [{ severity: 'error', code, details: { text }, ...(expression?.length ? { expression } : {}) }],
  };
}

/**
 * What an OperationOutcome issue from another server says, read defensively (its JSON is not ours): details.text,
 * else diagnostics, else the code; undefined when it says nothing.
 */
export function issueText(issue: unknown): string | undefined {
  const i = issue as { details?: { text?: unknown }; diagnostics?: unknown; code?: unknown } | null | undefined;
  const text = i?.details?.text ?? i?.diagnostics ?? i?.code;
  return typeof text === 'string' ? text : undefined;
}

/**
 * What an OperationOutcome (a response body, read defensively) says: the text of each issue (issueText), joined;
 * undefined when the body is not one or says nothing.
 */
export function outcomeText(body: unknown): string | undefined {
  const issues = (body as { issue?: unknown } | null | undefined)?.issue;
  if (!Array.isArray(issues)) return undefined;
  const text = issues.map(issueText).filter(Boolean).join('; ');
  return text || undefined;
}
