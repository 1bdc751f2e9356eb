/**
 * Privacy of the logs: no patient id reaches the request log (paths and query values are redacted, captured from
 * pino's real output), and third-party libraries that print their input (@lhncbc/ucum-lhc, dcmjs) print nothing:
 * their messages become debug records without the content.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { MemoryRepository } from '@medplum/fhir-router';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { doseAmount } from '../../src/exposure/units.ts';
import { readDataset } from '../../src/imaging/dicom.ts';
import { captureThirdPartyLogs, createLogger, redactPath } from '../../src/log/logger.ts';
import { createApp } from '../../src/server/app.ts';

const lines: string[] = [];
const sink = new Writable({
  write(chunk, _enc, done) {
    lines.push(...String(chunk).split('\n').filter(Boolean));
    done();
  },
});
const logger = createLogger('debug', sink);

describe('request log', () => {
  let server: Server;
  let base = '';
  beforeAll(async () => {
    const app = createApp({ repo: new MemoryRepository(), logger });
    server = await new Promise((resolve) => {
      const s = app.listen(0, '127.0.0.1', () => resolve(s));
    });
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('carries no patient id from paths or query strings', async () => {
    lines.length = 0;
    for (const path of [
      '/audit/patients/ow-SECRET1',
      '/fhir/Patient/ow-SECRET2',
      '/fhir/Patient/ow-SECRET3/_history/2',
      '/fhir/Observation?subject=Patient/ow-SECRET4&_count=5',
      '/audit/crossings?patient=ow-SECRET5&from=2026-01-01',
      '/fhir/Patient?_id=ow-SECRET6',
      '/audit/patients/ow-SECRET7?live=true',
      '/anything?ow-SECRET8',
    ])
      await fetch(`${base}${path}`);
    const requests = lines
      .map((l) => JSON.parse(l) as { msg: string; path?: string })
      .filter((r) => r.msg === 'request');
    expect(requests).toHaveLength(8);
    expect(lines.join('\n')).not.toMatch(/SECRET/);
    expect(requests.map((r) => r.path)).toEqual([
      '/audit/patients/:id',
      '/fhir/Patient/:id',
      '/fhir/Patient/:id/_history/:vid',
      '/fhir/Observation?subject=:v&_count=5',
      '/audit/crossings?patient=:v&from=2026-01-01',
      '/fhir/Patient?_id=:v',
      '/audit/patients/:id?live=:v',
      '/anything??',
    ]);
  });

  it('keeps FHIR interactions and operations readable', () => {
    expect(redactPath('/fhir/Patient/_search')).toBe('/fhir/Patient/_search');
    expect(redactPath('/fhir/Patient/$everything')).toBe('/fhir/Patient/$everything');
    expect(redactPath('/fhir/Patient/p1/$everything')).toBe('/fhir/Patient/:id/$everything');
  });
});

describe('third-party console output', () => {
  it('a weird unit string and a malformed DICOM print nothing containing their content', async () => {
    const printed: string[] = [];
    const record = (...args: unknown[]) => {
      printed.push(args.map(String).join(' '));
    };
    const spies = (['log', 'info', 'warn', 'error', 'debug', 'trace'] as const).map((m) =>
      vi.spyOn(console, m).mockImplementation(record),
    );
    const out = vi.spyOn(process.stdout, 'write');
    const err = vi.spyOn(process.stderr, 'write');
    const restore = await captureThirdPartyLogs(logger);
    lines.length = 0;
    try {
      // ucum-lhc prints "Unit requested for unit string …" when its parser throws.
      expect(doseAmount({ value: 1, code: 'WEIRDUNIT/()', system: 'http://unitsofmeasure.org' })).toMatchObject({
        kind: 'unknown',
      });
      // dcmjs reports an element with an invalid VR, naming the VR bytes it read, and reads the rest.
      readDataset(malformedDicom());
      // Our own console output still gets through.
      console.warn('ours');
    } finally {
      restore();
    }
    const everything = [
      ...printed,
      ...out.mock.calls.map((c) => String(c[0])),
      ...err.mock.calls.map((c) => String(c[0])),
    ].join('\n');
    for (const s of [...spies, out, err]) s.mockRestore();
    expect(everything).not.toMatch(/WEIRDUNIT|QZ/);
    expect(printed).toEqual(['ours']);
    const dropped = lines.map((l) => JSON.parse(l) as { source?: string; level: number; msg: string });
    expect(dropped.map((d) => d.source).sort()).toEqual(expect.arrayContaining(['@lhncbc/ucum-lhc', 'dcmjs']));
    expect(dropped.every((d) => d.level === 20)).toBe(true);
    expect(lines.join('\n')).not.toMatch(/WEIRDUNIT|QZ/);
  });
});

/** A Part 10 file whose dataset has an element with the VR "QZ", which does not exist. */
function malformedDicom(): Uint8Array {
  const el = (g: number, e: number, vr: string, val: Buffer) => {
    const h = Buffer.alloc(8);
    h.writeUInt16LE(g, 0);
    h.writeUInt16LE(e, 2);
    h.write(vr, 4, 'latin1');
    h.writeUInt16LE(val.length, 6);
    return Buffer.concat([h, val]);
  };
  const meta = el(0x0002, 0x0010, 'UI', Buffer.from('1.2.840.10008.1.2.1\0'));
  const groupLength = Buffer.alloc(12);
  groupLength.writeUInt16LE(0x0002, 0);
  groupLength.write('UL', 4, 'latin1');
  groupLength.writeUInt16LE(4, 6);
  groupLength.writeUInt32LE(meta.length, 8);
  const preamble = Buffer.alloc(132);
  preamble.write('DICM', 128, 'latin1');
  // An unknown VR is read as UN: 2 reserved bytes and a 4-byte length.
  const bad = Buffer.alloc(12);
  bad.writeUInt16LE(0x0010, 0);
  bad.writeUInt16LE(0x0020, 2);
  bad.write('QZ', 4, 'latin1');
  bad.writeUInt32LE(2, 8);
  const dataset = Buffer.concat([el(0x0010, 0x0010, 'PN', Buffer.from('DOE^JANE')), bad, Buffer.from('X1')]);
  return new Uint8Array(Buffer.concat([preamble, groupLength, meta, dataset]));
}
