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
