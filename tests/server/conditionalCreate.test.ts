/**
 * What cohort surveillance needs of the demo FHIR server for its work items (Task): conditional create
 * (https://hl7.org/fhir/R4/http.html#ccreate: 201 created, 200 the one match, 412 several), search by identifier
 * and status, and update by PUT.
 */
import type { Bundle, OperationOutcome, Task } from '@medplum/fhirtypes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningServer, startServer } from '../helpers/server.ts';

const FHIR = 'application/fhir+json';
const SYSTEM = 'urn:osteowatch:surveillance-task';
let srv: RunningServer;

beforeAll(async () => {
  srv = await startServer();
});
afterAll(() => srv.close());

const task = (value: string, status: Task['status'] = 'requested'): Task => ({
  resourceType: 'Task',
  status,
  intent: 'order',
  identifier: [{ system: SYSTEM, value }],
  for: { reference: 'Patient/ow-0001' },
  description: 'Re-screen after cohort export',
});

async function send(method: string, path: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${srv.fhirUrl}${path}`, {
    method,
    headers: { 'content-type': FHIR, accept: FHIR, ...headers },
    body: JSON.stringify(body),
  });
  return {
    status: res.status,
    location: res.headers.get('location'),
    etag: res.headers.get('etag'),
    body: (await res.json()) as never,
  };
}
const search = async (query: string) => (await (await fetch(`${srv.fhirUrl}/Task?${query}`)).json()) as Bundle<Task>;
const ifNoneExist = (value: string) => ({ 'if-none-exist': `identifier=${SYSTEM}|${value}` });

describe('Task on the demo FHIR server', () => {
  it('conditional create: 201 when new, 200 with the existing Task when one matches', async () => {
    const a = await send('POST', '/Task', task('t-1'), ifNoneExist('t-1'));
    expect(a.status).toBe(201);
    expect(a.location).toMatch(/^\/fhir\/Task\/[^/]+$/);
    const b = await send('POST', '/Task', task('t-1'), ifNoneExist('t-1'));
    expect(b.status).toBe(200);
    expect((b.body as Task).id).toBe((a.body as Task).id);
    expect((await search(`identifier=${SYSTEM}|t-1`)).total).toBe(1);
  });

  it('conditional create: 412 when several match', async () => {
    expect((await send('POST', '/Task', task('dup'))).status).toBe(201);
    expect((await send('POST', '/Task', task('dup'))).status).toBe(201);
    const c = await send('POST', '/Task', task('dup'), ifNoneExist('dup'));
    expect(c.status).toBe(412);
    expect((c.body as OperationOutcome).resourceType).toBe('OperationOutcome');
    expect((await search(`identifier=${SYSTEM}|dup`)).total).toBe(2);
  });

  it('searches by identifier and status, and updates by PUT', async () => {
    const created = (await send('POST', '/Task', task('t-2'), ifNoneExist('t-2'))).body as Task;
    const both = await search(`identifier=${SYSTEM}|t-2&status=requested`);
    expect(both.entry?.map((e) => e.resource?.id)).toEqual([created.id]);
    const put = await send('PUT', `/Task/${created.id}`, { ...created, status: 'completed' });
    expect(put.status).toBe(200);
    expect((put.body as Task).status).toBe('completed');
    expect(put.etag).toBe(`W/"${(put.body as Task).meta?.versionId}"`);
    expect((await search(`identifier=${SYSTEM}|t-2&status=requested`)).total).toBe(0);
    expect((await search(`identifier=${SYSTEM}|t-2&status=completed`)).total).toBe(1);
    const open = await search(`identifier=${SYSTEM}|&status=requested,in-progress&_count=100`);
    expect(open.entry?.every((e) => e.resource?.status === 'requested')).toBe(true);
    expect(open.entry?.some((e) => e.resource?.id === created.id)).toBe(false);
    // Conditional create after the update still finds the one Task, whatever its status.
    const again = await send('POST', '/Task', task('t-2'), ifNoneExist('t-2'));
    expect(again.status).toBe(200);
    expect((again.body as Task).status).toBe('completed');
  });

  it('refuses an If-None-Exist with a parameter the server does not know (it would match nothing), with 400', async () => {
    const typo = await send('POST', '/Task', task('t-4'), { 'if-none-exist': `identifer=${SYSTEM}|t-4` });
    expect(typo.status).toBe(400);
    expect((typo.body as OperationOutcome).issue[0]?.details?.text).toMatch(/identifer/);
    expect((await search(`identifier=${SYSTEM}|t-4`)).total).toBe(0);
    // Percent-encoded, as a client may send it, the query is the same.
    const encoded = { 'if-none-exist': `identifier=${encodeURIComponent(`${SYSTEM}|t-4`)}` };
    expect((await send('POST', '/Task', task('t-4'), encoded)).status).toBe(201);
    expect((await send('POST', '/Task', task('t-4'), encoded)).status).toBe(200);
  });

  it('refuses a conditional create whose Task is invalid, with 400', async () => {
    const { intent: _, ...noIntent } = task('t-3');
    const bad = await send('POST', '/Task', noIntent, ifNoneExist('t-3'));
    expect(bad.status).toBe(400);
    expect((await search(`identifier=${SYSTEM}|t-3`)).total).toBe(0);
  });
});
