/**
 * The crawl source over HTTP: a whole EHR's Conditions take many pages, longer than a SMART Backend Services
 * token lives (five minutes at most). Each page must go with the auth's current token, not the one the crawl began
 * with. The server here accepts each token for one request only (expiry, provoked on every page), the one fault
 * the demo server, whose search is open, cannot show.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RefusedError } from '../../src/errors.ts';
import type { FhirAuth } from '../../src/fhir/fhirAuth.ts';
import { DEFAULT_FHIR_LIMITS, FhirFetchError } from '../../src/fhir/patientRecords.ts';
import { crawlSource } from '../../src/surveillance/crawlSource.ts';
import type { RunRow } from '../../src/surveillance/runStore.ts';

const condition = (id: string, patient: string) => ({
  resourceType: 'Condition',
  id,
  code: { coding: [{ system: 'http://hl7.org/fhir/sid/icd-10-cm', code: 'M33.12' }] },
  subject: { reference: `Patient/${patient}` },
});

let server: Server;
let base = '';
const used = new Set<string>();
let refused = 0;

beforeAll(async () => {
  server = createServer((req, res) => {
    const token = req.headers.authorization ?? '';
    if (!token || used.has(token)) {
      refused++;
      res.writeHead(401, { 'content-type': 'application/fhir+json' });
      return res.end(
        JSON.stringify({ resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'login' }] }),
      );
    }
    used.add(token);
    const page = Number(new URL(req.url ?? '/', base).searchParams.get('page') ?? 1);
    res.writeHead(200, { 'content-type': 'application/fhir+json' });
    res.end(
      JSON.stringify({
        resourceType: 'Bundle',
        type: 'searchset',
        link: page < 3 ? [{ relation: 'next', url: `${base}/Condition?_count=1000&page=${page + 1}` }] : [],
        entry: [{ resource: condition(`c${page}`, `p${page}`), search: { mode: 'match' } }],
      }),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/fhir`;
});

afterAll(async () => {
  await new Promise((resolve) => server?.close(resolve));
});

describe('crawl source', () => {
  it('sends each page of the Condition crawl with the current token, so that one expiring mid-crawl is no failure', async () => {
    let n = 0;
    // A Backend Services auth whose cached token has just expired, every time it is asked.
    const auth: FhirAuth = { header: async () => `Bearer token-${++n}` };
    const source = crawlSource({
      fhirBaseUrl: base,
      auth,
      limits: DEFAULT_FHIR_LIMITS,
      maxConditionPages: 10,
      concurrency: 1,
    });
    const cohort = await source.load({} as RunRow, { batchSize: 10 });
    expect(cohort.patientIds).toEqual(['p1', 'p2', 'p3']);
    expect(refused).toBe(0);
  });

  it('a Condition search refused (401: no token, or a wrong one) is a RefusedError with the reason: not retried', async () => {
    const source = crawlSource({
      fhirBaseUrl: base,
      auth: { header: async () => undefined },
      limits: DEFAULT_FHIR_LIMITS,
      maxConditionPages: 10,
      concurrency: 1,
    });
    const err = await source.load({} as RunRow, { batchSize: 10 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RefusedError);
    expect((err as Error).message).toMatch(/^the Condition search was refused: /);
  });

  it("a token endpoint down while a batch is read: the patients' reads are unavailable (retried), not their errors", async () => {
    const down: FhirAuth = {
      header: async () => {
        throw new FhirFetchError('the token endpoint could not be reached: ECONNREFUSED');
      },
    };
    const refused: FhirAuth = {
      header: async () => {
        throw new RefusedError('the token endpoint refused client x: invalid_client');
      },
    };
    const opts = { fhirBaseUrl: base, limits: DEFAULT_FHIR_LIMITS, maxConditionPages: 10, concurrency: 1 };
    const a = (await crawlSource({ ...opts, auth: down }).records(['p1'], {} as RunRow, 0)).get('p1');
    expect(a).toMatchObject({ kind: 'unavailable' });
    expect((a as Error).message).toMatch(/^the token endpoint: the token endpoint could not be reached/);
    const b = (await crawlSource({ ...opts, auth: refused }).records(['p1'], {} as RunRow, 0)).get('p1');
    expect(b).toBeInstanceOf(RefusedError);
  });
});
