/**
 * The Bulk Data client (src/fhir/bulkExport.ts) against servers that misbehave, over real HTTP on loopback:
 * malformed, overlong and stalled NDJSON files, a file off the FHIR server, a transient polling failure, a 503
 * without Retry-After, a failed job; and Retry-After in both its forms.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OsteoWatchError, RefusedError } from '../../src/errors.ts';
import { ExportFailedError, ndjsonResources, parseRetryAfter, waitForManifest } from '../../src/fhir/bulkExport.ts';
import { staticBearer } from '../../src/fhir/fhirAuth.ts';
import { recordingSleep } from '../helpers/bulkServer.ts';

describe('NDJSON streaming', () => {
  let files: Server;
  let url = '';
  beforeAll(async () => {
    files = createServer((req, res) => {
      if (req.url === '/forbidden') {
        res.writeHead(403, { 'content-type': 'application/fhir+json' });
        res.end('{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"forbidden"}]}');
        return;
      }
      res.writeHead(200, { 'content-type': 'application/fhir+ndjson' });
      if (req.url === '/stall') {
        // One resource, then silence: the reader must give up, not hang.
        res.write('{"resourceType":"Patient","id":"s"}\n');
        setTimeout(() => res.end(), 1500).unref();
        return;
      }
      if (req.url === '/utf8') {
        // A byte-order mark, then names in two scripts, each write ending inside a character's UTF-8 bytes.
        const bytes = Buffer.concat([
          Buffer.from([0xef, 0xbb, 0xbf]),
          Buffer.from('{"resourceType":"Patient","id":"u1","name":[{"family":"Müller-Ødegård"}]}\n'),
          Buffer.from('{"resourceType":"Patient","id":"u2","name":[{"family":"山田"}]}\n'),
        ]);
        const cuts = [2, 40, bytes.indexOf(Buffer.from('山')) + 1, bytes.indexOf(Buffer.from('田')) + 2];
        let at = 0;
        const next = () => {
          const to = cuts.shift() ?? bytes.length;
          res.write(bytes.subarray(at, to));
          at = to;
          if (at < bytes.length) setTimeout(next, 5);
          else res.end();
        };
        next();
        return;
      }
      if (req.url === '/crlf-split') {
        // A line exactly at the limit, the piece ending between its CR and its LF.
        res.write('{"resourceType":"Patient","id":"a"}\r');
        setTimeout(() => res.end('\n{"resourceType":"Patient","id":"b"}\r\n'), 20);
        return;
      }
      if (req.url === '/long-within') {
        // The overlong line whole, between two others, all in one write.
        res.end(
          `{"resourceType":"Patient","id":"w1"}\n{"resourceType":"Patient","text":"${'x'.repeat(5000)}"}\n{"resourceType":"Patient","id":"w3"}\n`,
        );
        return;
      }
      if (req.url?.startsWith('/long')) {
        const long = `{"resourceType":"Patient","text":"${'x'.repeat(5000)}"}`;
        const [head, tail] = req.url === '/long-split' ? [long.slice(0, 3000), long.slice(3000)] : [long, ''];
        res.write(`{"resourceType":"Patient","id":"l1"}\n${head}`);
        setTimeout(() => res.end(`${tail}\n{"resourceType":"Patient","id":"l3"}\n`), 20);
        return;
      }
      res.write('{"resourceType":"Patient","id":"a"}\n{"resourceType":"Pat');
      // Split mid-line across chunks, CRLF, a blank line, a broken line, a non-resource, no final newline.
      setTimeout(() => {
        res.write('ient","id":"b"}\r\n\n{not json\n[1,2]\n');
        res.end('{"resourceType":"Patient","id":"c"}');
      }, 20);
    });
    await new Promise<void>((resolve) => files.listen(0, '127.0.0.1', () => resolve()));
    url = `http://127.0.0.1:${(files.address() as AddressInfo).port}/file.ndjson`;
  });
  afterAll(() => new Promise<void>((resolve) => files.close(() => resolve())));

  it('a file refused (403) is a refusal, not retried as a failure', async () => {
    const read = async () => {
      for await (const _ of ndjsonResources(url.replace('/file.ndjson', '/forbidden'), {
        auth: staticBearer('t'),
        requiresAccessToken: true,
      }));
    };
    const err = await read().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RefusedError);
    expect((err as Error).message).toBe('export file /forbidden: refused, HTTP 403');
  });

  it('decodes UTF-8 split across the pieces of the body, the byte-order mark dropped', async () => {
    const names: string[] = [];
    for await (const r of ndjsonResources(url.replace('/file.ndjson', '/utf8'), {
      auth: staticBearer('unused'),
      requiresAccessToken: false,
    }))
      names.push(`${String(r.id)} ${(r.name as Array<{ family: string }>)[0]!.family}`);
    expect(names).toEqual(['u1 Müller-Ødegård', 'u2 山田']);
  });

  it('reports a malformed line with its number and goes on', async () => {
    const bad: Array<[number, string]> = [];
    const ids: string[] = [];
    for await (const r of ndjsonResources(url, {
      auth: staticBearer('unused'),
      requiresAccessToken: false,
      onBadLine: (line, problem) => bad.push([line, problem]),
    }))
      ids.push(String(r.id));
    expect(ids).toEqual(['a', 'b', 'c']);
    expect(bad).toEqual([
      [4, 'not JSON'],
      [5, 'not a FHIR resource'],
    ]);
  });

  it('without a callback, a malformed line is an error naming the line', async () => {
    const read = async () => {
      for await (const _ of ndjsonResources(url, { auth: staticBearer('unused'), requiresAccessToken: false }));
    };
    await expect(read()).rejects.toThrow(/line 4: not JSON/);
  });

  it('times out on a silent server, not on a slow caller', async () => {
    const ids: string[] = [];
    for await (const r of ndjsonResources(url, {
      auth: staticBearer('unused'),
      requiresAccessToken: false,
      idleTimeoutMs: 300,
      onBadLine: () => undefined,
    })) {
      ids.push(String(r.id));
      await new Promise((resolve) => setTimeout(resolve, 400));
    }
    expect(ids).toEqual(['a', 'b', 'c']);
    const stalled = async () => {
      for await (const _ of ndjsonResources(url.replace('/file.ndjson', '/stall'), {
        auth: staticBearer('unused'),
        requiresAccessToken: false,
        idleTimeoutMs: 300,
      }));
    };
    await expect(stalled()).rejects.toThrow(/nothing received for 300 ms/);
  });

  it('reports and skips a line longer than the limit, whole or still arriving', async () => {
    for (const path of ['/long', '/long-split']) {
      const bad: Array<[number, string]> = [];
      const ids: string[] = [];
      for await (const r of ndjsonResources(url.replace('/file.ndjson', path), {
        auth: staticBearer('unused'),
        requiresAccessToken: false,
        maxLineLength: 1000,
        onBadLine: (line, problem) => bad.push([line, problem]),
      }))
        ids.push(String(r.id));
      expect(ids).toEqual(['l1', 'l3']);
      expect(bad).toEqual([[2, 'longer than 1000 characters']]);
    }
  });

  it('reports an overlong line in its place among the lines of its piece; without a listener, after the lines before it', async () => {
    const file = url.replace('/file.ndjson', '/long-within');
    const events: string[] = [];
    for await (const r of ndjsonResources(file, {
      auth: staticBearer('unused'),
      requiresAccessToken: false,
      maxLineLength: 1000,
      onBadLine: (line) => events.push(`bad ${line}`),
    }))
      events.push(String(r.id));
    expect(events).toEqual(['w1', 'bad 2', 'w3']);
    const read: string[] = [];
    const failed = await (async () => {
      for await (const r of ndjsonResources(file, {
        auth: staticBearer('unused'),
        requiresAccessToken: false,
        maxLineLength: 1000,
      }))
        read.push(String(r.id));
    })().catch((e: unknown) => e);
    expect(read).toEqual(['w1']);
    expect((failed as Error).message).toMatch(/line 2: longer than 1000 characters$/);
  });

  it('takes a line at the limit whose CR ends one piece and LF begins the next', async () => {
    const bad: number[] = [];
    const ids: string[] = [];
    for await (const r of ndjsonResources(url.replace('/file.ndjson', '/crlf-split'), {
      auth: staticBearer('unused'),
      requiresAccessToken: false,
      maxLineLength: '{"resourceType":"Patient","id":"a"}'.length,
      onBadLine: (line) => bad.push(line),
    }))
      ids.push(String(r.id));
    expect({ ids, bad }).toEqual({ ids: ['a', 'b'], bad: [] });
  });

  it('does not send the token to a file off the FHIR server', async () => {
    const read = async () => {
      for await (const _ of ndjsonResources(url, {
        auth: staticBearer('secret'),
        requiresAccessToken: true,
        fhirBaseUrl: 'https://ehr.example.org/fhir',
      }));
    };
    await expect(read()).rejects.toThrow(/not sending the token/);
  });
});

describe('status polling against a flaky server', () => {
  let flaky: Server;
  let statusUrl = '';
  let polls = 0;
  beforeAll(async () => {
    flaky = createServer((req, res) => {
      polls++;
      const json = (status: number, body: unknown) =>
        res.writeHead(status, { 'content-type': 'application/fhir+json' }).end(JSON.stringify(body));
      if (req.url === '/failed')
        return json(500, { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'processing' }] });
      // A polling failure that is not the job's (transient), busy with a Retry-After of 0, a failure coded with a
      // child of `transient` (throttled), then done.
      if (polls === 1)
        return json(500, {
          resourceType: 'OperationOutcome',
          issue: [{ severity: 'error', code: 'transient', details: { text: 'database restarting' } }],
        });
      if (polls === 2) return res.writeHead(503, { 'retry-after': '0' }).end();
      if (polls === 3)
        return json(500, { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'throttled' }] });
      json(200, { transactionTime: '2026-06-30T00:00:00Z', request: 'x', requiresAccessToken: true, output: [] });
    });
    await new Promise<void>((resolve) => flaky.listen(0, '127.0.0.1', () => resolve()));
    statusUrl = `http://127.0.0.1:${(flaky.address() as AddressInfo).port}/status`;
  });
  afterAll(() => new Promise<void>((resolve) => flaky.close(() => resolve())));

  it('retries a transient failure (any code under `transient`) and a 503, backing off without a Retry-After that waits', async () => {
    const { sleep, asked } = recordingSleep();
    const seen: number[] = [];
    const manifest = await waitForManifest(statusUrl, {
      auth: staticBearer('t'),
      maxWaitSeconds: 60,
      retryAfterCapSeconds: 10,
      sleep,
      onProgress: (p) => seen.push(p.status),
    });
    expect(seen).toEqual([500, 503, 500]);
    // Retry-After: 0 is no reason to poll again at once: the backoff goes on.
    expect(asked).toEqual([1000, 2000, 4000]);
    expect(manifest).toMatchObject({ output: [], error: [], requiresAccessToken: true });
  });

  it("reports a failed job with the server's OperationOutcome", async () => {
    const err = await waitForManifest(statusUrl.replace('/status', '/failed'), {
      auth: staticBearer('t'),
      maxWaitSeconds: 5,
      retryAfterCapSeconds: 1,
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OsteoWatchError);
    expect(err).toBeInstanceOf(ExportFailedError);
    expect((err as OsteoWatchError).message).toMatch(/the export failed: HTTP 500: processing/);
  });
});

describe('a gateway error while polling', () => {
  it('is the way to the server failing, not the job: unavailable (retried, the job kept), not a failed export', async () => {
    const server = createServer((_req, res) =>
      res.writeHead(502, { 'content-type': 'text/html' }).end('<h1>Bad Gateway</h1>'),
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    try {
      const err = await waitForManifest(`http://127.0.0.1:${(server.address() as AddressInfo).port}/status`, {
        auth: staticBearer('t'),
        maxWaitSeconds: 5,
        retryAfterCapSeconds: 1,
      }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(OsteoWatchError);
      expect(err).not.toBeInstanceOf(ExportFailedError);
      expect((err as OsteoWatchError).kind).toBe('unavailable');
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});

describe('Retry-After', () => {
  it('reads seconds and HTTP dates', () => {
    const now = Date.parse('2026-06-30T12:00:00Z');
    expect(parseRetryAfter('120', now)).toBe(120);
    expect(parseRetryAfter('Tue, 30 Jun 2026 12:00:30 GMT', now)).toBe(30);
    expect(parseRetryAfter('Tue, 30 Jun 2026 11:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter(null, now)).toBeUndefined();
  });
});
