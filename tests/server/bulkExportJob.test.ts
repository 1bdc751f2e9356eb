/**
 * The demo server's export job reads each type in pages that double (src/server/bulkExportJob.ts searchAll):
 * every record of a type larger than several pages is exported once, none skipped or repeated at a page's edge,
 * with the Medications the members' records reference.
 */
import { MemoryRepository } from '@medplum/fhir-router';
import type { Group, MedicationStatement } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { loadFhirDefinitions } from '../../src/fhir/definitions.ts';
import { type Job, runJob } from '../../src/server/bulkExportJob.ts';

describe('demo Bulk Data export job', () => {
  it('exports every record of a type spread over several pages exactly once', async () => {
    loadFhirDefinitions();
    const repo = new MemoryRepository();
    for (const id of ['member', 'other']) await repo.updateResource({ resourceType: 'Patient', id });
    await repo.updateResource({ resourceType: 'Medication', id: 'med-1', code: { text: 'prednisone 5 mg tablet' } });
    // 500 + 1,000 + 2,000 per page: 2,100 records of the member end in the third page; the other patient's are
    // interleaved, so that the pages cut through both.
    const statement = (patient: string, i: number): MedicationStatement => ({
      resourceType: 'MedicationStatement',
      id: `${patient}-${i}`,
      status: 'active',
      subject: { reference: `Patient/${patient}` },
      ...(i === 1717
        ? { medicationReference: { reference: 'Medication/med-1' } }
        : { medicationCodeableConcept: { text: 'prednisone' } }),
    });
    for (let i = 0; i < 2100; i++) {
      await repo.updateResource(statement('member', i));
      if (i % 3 === 0) await repo.updateResource(statement('other', i));
    }
    const group: Group = {
      resourceType: 'Group',
      type: 'person',
      actual: true,
      member: [{ entity: { reference: 'Patient/member' } }],
    };
    const job: Job = {
      id: 'j',
      clientId: 'c',
      request: '',
      state: 'running',
      progress: '',
      expiresAt: Date.now() + 60_000,
      transactionTime: new Date().toISOString(),
      output: [],
      errors: [],
      abort: new AbortController(),
    };
    await runJob(
      job,
      { group, types: ['Patient', 'MedicationStatement', 'Medication'], filters: new Map() },
      { repo, minJobMs: 0, resourcesPerFile: 1000, now: Date.now },
    );
    expect(job.state).toBe('done');
    const ids = (type: string) =>
      job.output
        .filter((f) => f.type === type)
        .flatMap((f) => f.lines.map((l) => (JSON.parse(l) as { id: string }).id));
    const statements = ids('MedicationStatement');
    expect(statements).toHaveLength(2100);
    expect(new Set(statements)).toEqual(new Set(Array.from({ length: 2100 }, (_, i) => `member-${i}`)));
    expect(ids('Patient')).toEqual(['member']);
    expect(ids('Medication')).toEqual(['med-1']);
  }, 60_000);
});
