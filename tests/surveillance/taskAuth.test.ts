/**
 * As whom worklist Tasks are written. The FHIR server read and the Task server are the same server however the
 * URL is spelled (a trailing slash, the host's case, the default port): the read credentials go with the Tasks.
 * Another server never gets them: it gets OSTEOWATCH_TASK_FHIR_TOKEN, or no credentials.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WorklistItem } from '../../src/screening/worklist.ts';
import { sameFhirBase } from '../../src/surveillance/service.ts';
import { type FhirStub, FORBIDDEN, fhirStub } from '../helpers/fhirStub.ts';
import type { RunningServer } from '../helpers/server.ts';
import { demoServer, type EngineStore, engines, surveillanceFor } from './harness.ts';

const item: WorklistItem = {
  patientId: 'ow-0001',
  rule: 'screening-due',
  dueDate: '2026-03-01',
  overdueFrom: null,
  daysOverdue: null,
  cumulativeMg: 9000,
  lowerBound: false,
  lastStudy: null,
  summary: 'Screening STIR WB-MRI due',
  suggestsOrder: false,
};

describe('Task server credentials', () => {
  let server: RunningServer;
  let stub: FhirStub;
  let db: EngineStore;
  beforeAll(async () => {
    server = await demoServer([]);
    stub = await fhirStub(async () => ({ status: 403, body: FORBIDDEN }));
    db = await engines()[0]!.open();
  }, 60_000);
  afterAll(async () => {
    await db?.dispose();
    await stub?.close();
    await server?.close();
  });

  /** The authorization header the Task server gets from a Surveillance reading `read` and writing to `task`. */
  async function sent(read: string, task: string, taskToken?: string): Promise<string | undefined> {
    const s = surveillanceFor(server, db, {
      fhirBaseUrl: read,
      staticToken: 'read-token',
      taskFhirUrl: task,
      taskToken,
      workers: 0,
    });
    const before = stub.headers.length;
    await expect(s.runner.d.tasks!.publish(item, '2026-06-30', 'why')).rejects.toThrow(/answered 403/);
    expect(stub.headers.length).toBe(before + 1);
    return stub.headers.at(-1)!.authorization;
  }

  it('the same server, spelled with a trailing slash or another host case: the read credentials', async () => {
    expect(await sent(stub.url, `${stub.url}/`)).toBe('Bearer read-token');
    expect(await sent(`${stub.url}/`, stub.url)).toBe('Bearer read-token');
    expect(await sent(stub.url, stub.url.replace('http://', 'HTTP://'))).toBe('Bearer read-token');
  });

  it('another server: its own token when configured, else none (the read token never leaves)', async () => {
    const other = stub.url.replace('127.0.0.1', 'localhost');
    expect(await sent(server.fhirUrl, other, 'task-token')).toBe('Bearer task-token');
    expect(await sent(server.fhirUrl, other)).toBeUndefined();
  });

  it('sameFhirBase compares parsed URLs, not strings', () => {
    expect(sameFhirBase('https://ehr.example/fhir', 'https://EHR.example:443/fhir/')).toBe(true);
    expect(sameFhirBase('https://ehr.example/fhir', 'https://ehr.example/fhir/r4')).toBe(false);
    expect(sameFhirBase('https://ehr.example/fhir', 'http://ehr.example/fhir')).toBe(false);
  });
});
