import type { OperationOutcome } from '@medplum/fhirtypes';
import type { IssueType } from '../errors.ts';

/** An OperationOutcome with one error issue: the body of every 4xx/5xx this service returns. */
export function operationOutcome(code: IssueType, text: string, expression?: string[]): OperationOutcome {
  return {
    resourceType: 'OperationOutcome',
    issue: [{ severity: 'error', code, details: { text }, ...(expression?.length ? { expression } : {}) }],
  };
}
