/**
 * The one error vocabulary (src/errors.ts): each kind's HTTP status, issue type and exit code, every named error
 * class on it, the one zod formatter, and the one HTTP error middleware (src/server/outcome.ts).
 */
import type { AddressInfo } from 'node:net';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { TrustedClientsError } from '../src/auth/trustedClients.ts';
import { PreconditionFailed } from '../src/cdsHooks/data.ts';
import { CliExit } from '../src/cli/audit.ts';
import { AuditClientError } from '../src/cli/auditClient.ts';
import { EnvError } from '../src/config/env.ts';
import {
  ERROR_KINDS,
  type ErrorKind,
  exitCodeOf,
  httpStatusOf,
  issueTypeOf,
  networkReason,
  OsteoWatchError,
  parseInput,
  zodIssues,
  zodMessage,
} from '../src/errors.ts';
import { ConfigError } from '../src/exposure/config.ts';
import { InputError } from '../src/fhir/bundleFile.ts';
import { FhirFetchError } from '../src/fhir/patientRecords.ts';
import { DicomInputError } from '../src/imaging/dicom.ts';
import { WriteBackError } from '../src/imaging/writeBack.ts';
import type { Logger } from '../src/log/logger.ts';
import { outcomeErrors, PLAIN_JSON } from '../src/server/outcome.ts';
import { StoreLockedError } from '../src/store/lock.ts';

describe('kind → HTTP status, issue type, exit code', () => {
  const table: Array<[ErrorKind, number, string, number]> = [
    ['invalid', 400, 'invalid', 1],
    ['usage', 400, 'invalid', 2],
    ['unauthorized', 401, 'login', 1],
    ['forbidden', 403, 'forbidden', 1],
    ['not-found', 404, 'not-found', 1],
    ['conflict', 409, 'conflict', 1],
    ['precondition', 412, 'processing', 1],
    ['media-type', 415, 'not-supported', 1],
    ['unprocessable', 422, 'processing', 1],
    ['locked', 423, 'lock-error', 1],
    ['config', 500, 'exception', 2],
    ['internal', 500, 'exception', 1],
    ['upstream', 502, 'exception', 1],
    ['unavailable', 503, 'transient', 1],
    ['timeout', 504, 'timeout', 1],
  ];

  it('covers every kind', () => {
    expect(table.map(([k]) => k).sort()).toEqual([...ERROR_KINDS].sort());
  });

  it.each(table)('%s: HTTP %i, issue %s, exit %i', (kind, status, issue, exit) => {
    const err = new OsteoWatchError(kind, 'x');
    expect(httpStatusOf(kind)).toBe(status);
    expect(issueTypeOf(err)).toBe(issue);
    expect(exitCodeOf(err)).toBe(exit);
  });

  it('details override the issue type and the exit code', () => {
    const err = new OsteoWatchError('invalid', 'x', { code: 'not-supported', exitCode: 3 });
    expect(issueTypeOf(err)).toBe('not-supported');
    expect(exitCodeOf(err)).toBe(3);
  });
});

describe('every named error is an OsteoWatchError of its kind', () => {
  const cases: Array<[string, OsteoWatchError, ErrorKind, number]> = [
    ['InputError', new InputError('m'), 'invalid', 1],
    ['DicomInputError', new DicomInputError('m'), 'invalid', 1],
    ['FhirFetchError', new FhirFetchError('m'), 'upstream', 1],
    ['AuditClientError', new AuditClientError('m'), 'upstream', 1],
    ['StoreLockedError', new StoreLockedError('/d', 42), 'locked', 1],
    ['PreconditionFailed', new PreconditionFailed('m', ['k']), 'precondition', 1],
    ['EnvError', new EnvError('m'), 'config', 2],
    ['ConfigError', new ConfigError(['p']), 'config', 2],
    ['TrustedClientsError', new TrustedClientsError('m'), 'config', 2],
  ];
  it.each(cases)('%s', (name, err, kind, exit) => {
    expect(err).toBeInstanceOf(OsteoWatchError);
    expect(err.name).toBe(name);
    expect(err.kind).toBe(kind);
    expect(exitCodeOf(err)).toBe(exit);
  });

  it('CliExit keeps its own exit code', () => {
    expect(exitCodeOf(new CliExit(2, 'usage'))).toBe(2);
    expect(new CliExit(2).kind).toBe('usage');
    expect(exitCodeOf(new CliExit(1))).toBe(1);
    expect(new CliExit(1).code).toBe(1);
  });

  it('WriteBackError answers with the status it always had', () => {
    const unknown = new WriteBackError(422, 'Patient/x does not exist');
    expect([httpStatusOf(unknown.kind), issueTypeOf(unknown)]).toEqual([422, 'not-found']);
    const refused = new WriteBackError(502, 'refused');
    expect([httpStatusOf(refused.kind), issueTypeOf(refused)]).toEqual([502, 'exception']);
    const ours = new WriteBackError(500, 'failed its profile');
    expect([httpStatusOf(ours.kind), issueTypeOf(ours)]).toEqual([500, 'exception']);
  });

  it('keeps what callers read', () => {
    expect(new StoreLockedError('/d', 42).pid).toBe(42);
    expect(new PreconditionFailed('m', ['a', 'b']).keys).toEqual(['a', 'b']);
    expect(new ConfigError(['thresholdMg: bad']).message).toBe('Invalid exposure configuration:\n  - thresholdMg: bad');
  });
});

describe('zodMessage', () => {
  const schema = z.object({
    from: z.string({ error: 'must be a date' }),
    sites: z.array(z.object({ side: z.enum(['left', 'right'], { error: 'left or right' }) })),
  });
  const error = schema.safeParse({ sites: [{ side: 'up' }] }).error!;

  it('path: message; path: message', () => {
    expect(zodMessage(error)).toBe('from: must be a date; sites.0.side: left or right');
  });

  it('paths under a prefix', () => {
    expect(zodMessage(error, 'context')).toBe('context.from: must be a date; context.sites.0.side: left or right');
  });

  it('an issue at the root is its message, or the prefix names it', () => {
    const root = z.array(z.string()).safeParse({}).error!;
    expect(zodMessage(root)).toBe('Invalid input: expected array, received object');
    expect(zodMessage(root, 'context')).toBe('context: Invalid input: expected array, received object');
  });

  it('zodIssues lists the same, one a line', () => {
    expect(zodIssues(error)).toEqual(['from: must be a date', 'sites.0.side: left or right']);
  });

  it('parseInput returns the data or throws an invalid error with the message', () => {
    expect(parseInput(schema, { from: 'x', sites: [] })).toEqual({ from: 'x', sites: [] });
    let thrown: unknown;
    try {
      parseInput(schema, { sites: [{ side: 'up' }] }, 'context');
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(OsteoWatchError);
    expect((thrown as OsteoWatchError).kind).toBe('invalid');
    expect((thrown as OsteoWatchError).message).toBe(zodMessage(error, 'context'));
  });
});

describe('the HTTP error middleware', () => {
  const logged: unknown[] = [];
  const logger = { error: (...args: unknown[]) => logged.push(args) } as unknown as Logger;
  let base = '';
  let close: () => void;
  beforeAll(async () => {
    const app = express();
    app.get('/precondition', () => {
      throw new PreconditionFailed('Required data is missing: conditions.', ['conditions']);
    });
    app.get('/upstream', () => {
      throw new WriteBackError(502, 'the FHIR server refused the transaction');
    });
    app.get('/bug', async () => {
      throw new Error('cannot read Patient/ow-0001');
    });
    app.post('/json', express.json(), (_req, res) => {
      res.end();
    });
    app.use(outcomeErrors({ logger, type: PLAIN_JSON }));
    const server = await new Promise<ReturnType<typeof app.listen>>((resolve) => {
      const s = app.listen(0, '127.0.0.1', () => resolve(s));
    });
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    close = () => server.close();
  });
  afterAll(() => close());

  const get = async (path: string, init?: RequestInit) => {
    const r = await fetch(`${base}${path}`, init);
    return { status: r.status, type: r.headers.get('content-type'), body: (await r.json()) as never };
  };

  it('an OsteoWatchError: its kind’s status and issue type, its message, the media type asked for', async () => {
    const r = await get('/precondition');
    expect(r.status).toBe(412);
    expect(r.type).toContain(PLAIN_JSON);
    expect(r.body).toEqual({
      resourceType: 'OperationOutcome',
      issue: [{ severity: 'error', code: 'processing', details: { text: 'Required data is missing: conditions.' } }],
    });
  });

  it('a 5xx of ours is answered with its message and logged by name and kind only', async () => {
    logged.length = 0;
    const r = await get('/upstream');
    expect(r.status).toBe(502);
    expect(JSON.stringify(logged)).toContain('WriteBackError');
    expect(JSON.stringify(logged)).not.toContain('refused the transaction');
  });

  it('anything else: 500 with a generic text, logged without its message', async () => {
    logged.length = 0;
    const r = await get('/bug');
    expect(r.status).toBe(500);
    expect(r.body).toMatchObject({ issue: [{ code: 'exception', details: { text: 'Internal error' } }] });
    expect(logged).toHaveLength(1);
    expect(JSON.stringify(logged)).not.toContain('ow-0001');
  });

  it('a body that is not JSON: 400 structure', async () => {
    const r = await get('/json', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"a":' });
    expect(r.status).toBe(400);
    expect(r.body).toMatchObject({ issue: [{ code: 'structure' }] });
  });
});

describe('networkReason', () => {
  it("names the network's reason, not fetch's bare 'fetch failed'", async () => {
    const refused = await fetch('http://127.0.0.1:1/').catch((e: unknown) => e);
    expect(networkReason(refused)).not.toBe('fetch failed');
    expect(networkReason(new TypeError('fetch failed', { cause: { code: 'ECONNREFUSED' } }))).toBe('ECONNREFUSED');
    expect(networkReason(new TypeError('fetch failed', { cause: new Error('bad port') }))).toBe('bad port');
    expect(networkReason(new Error('plain'))).toBe('plain');
  });
});
