import type { OperationOutcome } from '@medplum/fhirtypes';

export type IssueType =
  | 'invalid'
  | 'structure'
  | 'required'
  | 'value'
  | 'not-found'
  | 'exception'
  | 'security'
  | 'login'
  | 'processing'
  | 'too-costly'
  | 'not-supported';

/** An OperationOutcome with one error issue: the body of every 4xx/5xx this service returns. */
export function operationOutcome(code: IssueType, text: string, expression?: string[]): OperationOutcome {
  return {
    resourceType: 'OperationOutcome',
    issue: [{ severity: 'error', code, details: { text }, ...(expression?.length ? { expression } : {}) }],
  };
}
