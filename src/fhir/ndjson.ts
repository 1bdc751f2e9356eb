/**
 * Reading one Bulk Data NDJSON file (https://hl7.org/fhir/uv/bulkdata/STU2/export.html#file-request) as a stream of
 * resources, a piece of the response body at a time: memory holds that piece's lines, never the file. A line that
 * is not a JSON resource is reported with its number (or is an error when nobody listens); an overlong line is
 * reported and skipped as it arrives. Re-exported by bulkExport.ts, where the rest of the client is.
 */
import { isRefusal, OsteoWatchError, RefusedError } from '../errors.ts';
import { authorizedFetch, type FhirAuth } from './fhirAuth.ts';
import { FhirFetchError, FhirTimeoutError, sameOrigin } from './patientRecords.ts';

export const NDJSON = 'application/fhir+ndjson';

/**
 * The export job or its files are not there: deleted, expired, or never existed (404/410 on the status URL or on
 * a file, whose URLs a server may expire: the manifest's `Expires`). A new export is the only way on.
 */
export class ExportGoneError extends OsteoWatchError {
  constructor(message: string) {
    super('upstream', message);
  }
}

export interface NdjsonOptions {
  auth: FhirAuth;
  /** From the manifest: send the token with the file request. */
  requiresAccessToken: boolean;
  /** The token is sent only to this server's origin; a file elsewhere that needs it is refused. */
  fhirBaseUrl?: string;
  /** A line that is not a JSON resource (1-based line number); without it, such a line is an error. */
  onBadLine?: (line: number, problem: string) => void;
  /** The longest silence while reading the file, ms. */
  idleTimeoutMs?: number;
  /** The longest line accepted, in characters; a longer one is reported and skipped. */
  maxLineLength?: number;
  signal?: AbortSignal;
}

/**
 * The resources of one NDJSON file (export.html#file-request), read from the response stream a piece at a time:
 * memory holds the lines of a piece, never the file.
 */
export async function* ndjsonResources(url: string, o: NdjsonOptions): AsyncGenerator<Record<string, unknown>> {
  const entryOf = lineParser(url, o);
  for await (const lines of ndjsonLineBatches(url, o))
    for (const line of lines) {
      const entry = entryOf(line);
      if (entry) yield entry.resource;
    }
}

/** A resource of an NDJSON file with its line as received (no trailing CR): kept by whoever stores it as is. */
export interface NdjsonEntry {
  resource: Record<string, unknown>;
  text: string;
  /** 1-based line number in the file, for reports. */
  line: number;
}

/** As ndjsonResources, each resource with its line's text (a store need not serialise it again). */
export async function* ndjsonEntries(url: string, o: NdjsonOptions): AsyncGenerator<NdjsonEntry> {
  const entryOf = lineParser(url, o);
  for await (const lines of ndjsonLineBatches(url, o))
    for (const line of lines) {
      const entry = entryOf(line);
      if (entry) yield entry;
    }
}

/** A line of an NDJSON file as received (no trailing CR, not blank, not overlong), not parsed. */
export interface NdjsonLine {
  text: string;
  /** 1-based line number in the file, for reports. */
  line: number;
}

const whatOf = (url: string) => `export file ${new URL(url).pathname}`;

/** A line that is not a resource: reported to onBadLine, or an error when nobody listens. */
function badLine(url: string, o: NdjsonOptions, line: number, problem: string): undefined {
  if (!o.onBadLine) throw new FhirFetchError(`${whatOf(url)}, line ${line}: ${problem}`);
  o.onBadLine(line, problem);
  return undefined;
}

/**
 * The parse of ndjsonEntries for lines read by ndjsonLineBatches: the line's resource, or undefined for a line that is
 * not a JSON resource (reported as ndjsonEntries reports it).
 */
export function lineParser(url: string, o: NdjsonOptions): (l: NdjsonLine) => NdjsonEntry | undefined {
  return ({ text, line }) => {
    let v: unknown;
    try {
      v = JSON.parse(text);
    } catch {
      return badLine(url, o, line, 'not JSON');
    }
    const r = v as { resourceType?: unknown } | undefined;
    if (r && typeof r === 'object' && !Array.isArray(r) && typeof r.resourceType === 'string')
      return { resource: r as Record<string, unknown>, text, line };
    return badLine(url, o, line, 'not a FHIR resource');
  };
}

/**
 * The lines of one NDJSON file, unparsed, read from the response stream and handed over as they arrive: the
 * complete lines of each piece of the body together (an await per piece, not per line: a hundred thousand lines
 * cost a hundred thousand promise turns otherwise). For a reader that can tell what it needs from a line's text
 * and parses only the others (lineParser). Blank lines are skipped; an overlong line is reported (onBadLine) and
 * its rest dropped as it comes.
 */
export async function* ndjsonLineBatches(url: string, o: NdjsonOptions): AsyncGenerator<NdjsonLine[]> {
  if (o.requiresAccessToken && o.fhirBaseUrl && !sameOrigin(url, o.fhirBaseUrl))
    throw new FhirFetchError(`an export file is off the FHIR server (${new URL(url).origin}); not sending the token`);
  const idleMs = o.idleTimeoutMs ?? 30_000;
  const maxLine = o.maxLineLength ?? 16 * 1024 * 1024;
  const what = whatOf(url);
  // The silence timer runs only while we wait on the server, never while the caller works on what was yielded.
  const idle = new AbortController();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const waiting = async <T>(step: () => Promise<T>): Promise<T> => {
    timer = setTimeout(() => idle.abort(), idleMs);
    try {
      return await step();
    } catch (err) {
      if (o.signal?.aborted) throw new OsteoWatchError('unavailable', `${what}: cancelled`);
      if (idle.signal.aborted) throw new FhirTimeoutError(`${what}: nothing received for ${idleMs} ms`);
      throw err;
    } finally {
      clearTimeout(timer);
    }
  };
  const signal = o.signal ? AbortSignal.any([idle.signal, o.signal]) : idle.signal;
  const auth = o.requiresAccessToken ? o.auth : { header: async () => undefined };
  const headers = { accept: NDJSON };
  const res = await waiting(() => authorizedFetch('GET', url, { auth, signal, timeoutMs: Infinity, headers }, what));
  if (res.status === 404 || res.status === 410)
    throw new ExportGoneError(`${what}: HTTP ${res.status} (the export's files have expired or were deleted)`);
  // 401, 403 (after authorizedFetch asked once more with a fresh token): the same download again gets the same.
  if (isRefusal(res.status)) throw new RefusedError(`${what}: refused, HTTP ${res.status}`);
  if (!res.ok || !res.body) throw new FhirFetchError(`${what}: HTTP ${res.status}`);
  const reader = res.body.getReader();
  // Decoded here rather than through a TextDecoderStream (the same decoding: UTF-8, a BOM dropped, a malformed
  // byte replaced), one web stream fewer to pass every piece through.
  const decoder = new TextDecoder();
  /**
   * The line without its CR; null for one over the limit (to be reported: blank or not, as when it is found still
   * growing); undefined for a blank one.
   */
  const lineOf = (text: string, line: number): NdjsonLine | undefined | null => {
    const t = text.endsWith('\r') ? text.slice(0, -1) : text;
    if (t.length > maxLine) return null;
    if (!t.trim()) return undefined;
    return { text: t, line };
  };
  const overlong = (line: number) => badLine(url, o, line, `longer than ${maxLine} characters`);
  let buffer = '';
  let lineNo = 0;
  let skipping = false;
  try {
    for (;;) {
      const chunk = await waiting(() => reader.read());
      if (chunk.done) break;
      const lines = (buffer + decoder.decode(chunk.value, { stream: true })).split('\n');
      buffer = lines.pop()!;
      let out: NdjsonLine[] = [];
      for (const text of lines) {
        lineNo++;
        const l = skipping ? undefined : lineOf(text, lineNo);
        skipping = false;
        if (l) out.push(l);
        else if (l === null) {
          // Reported in its place in the file: the lines before it are handed over first (and kept, when the
          // report is an error that ends the reading).
          if (out.length) yield out;
          out = [];
          overlong(lineNo);
        }
      }
      if (out.length) yield out;
      // A line still growing past the limit is reported now and its rest dropped as it comes.
      // (Its CR, when the piece ended between CR and LF, is not part of the line.)
      if (buffer.length - (buffer.endsWith('\r') ? 1 : 0) > maxLine) {
        if (!skipping) overlong(lineNo + 1);
        skipping = true;
        buffer = '';
      }
    }
    buffer += decoder.decode();
    const last = skipping || !buffer ? undefined : lineOf(buffer, lineNo + 1);
    if (last === null) overlong(lineNo + 1);
    else if (last) yield [last];
  } finally {
    await reader.cancel().catch(() => undefined);
  }
}
