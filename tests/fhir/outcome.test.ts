/**
 * Reading another server's OperationOutcome: every caller (CLI clients, pages, the FHIR and Bulk Data clients,
 * the imaging write-back) goes through outcomeText, so a server that writes `diagnostics` instead of
 * `details.text`, or several issues, is read the same way everywhere.
 */
import { describe, expect, it } from 'vitest';
import { issueText, operationOutcome, outcomeText } from '../../src/fhir/outcome.ts';

describe('OperationOutcome text', () => {
  it('reads details.text, else diagnostics, else the code, and only strings', () => {
    expect(issueText({ details: { text: 'a' }, diagnostics: 'b', code: 'invalid' })).toBe('a');
    expect(issueText({ diagnostics: 'b', code: 'invalid' })).toBe('b');
    expect(issueText({ code: 'not-found' })).toBe('not-found');
    expect(issueText({ details: { text: 42 } })).toBeUndefined();
    expect(issueText(null)).toBeUndefined();
  });

  it('joins every issue of a body, and says nothing for what is not an OperationOutcome', () => {
    // HAPI FHIR writes diagnostics; HL7's examples write details.text.
    const body = {
      resourceType: 'OperationOutcome',
      issue: [
        { severity: 'error', code: 'processing', diagnostics: 'HAPI-0450: Failed to parse request body' },
        { severity: 'error', code: 'invalid', details: { text: 'subject is required' } },
        { severity: 'warning', code: 'informational' },
      ],
    };
    expect(outcomeText(body)).toBe('HAPI-0450: Failed to parse request body; subject is required; informational');
    expect(outcomeText(operationOutcome('not-found', 'no surveillance run r1'))).toBe('no surveillance run r1');
    expect(outcomeText({ issue: [] })).toBeUndefined();
    expect(outcomeText({ issue: 'broken' })).toBeUndefined();
    expect(outcomeText('<html>Bad Gateway</html>')).toBeUndefined();
    expect(outcomeText(undefined)).toBeUndefined();
  });
});
