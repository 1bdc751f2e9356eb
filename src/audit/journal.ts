/**
 * The hook audit journal: a write-ahead log of hook records in the data directory, so that a hook answer is
 * only sent once its record is durable even though the record is written to the store later, in a group
 * commit. One JSON line per record, appended and fsynced in groups (every record waiting while one fsync
 * runs shares the next), in segment files `audit-journal/NNNNNNNNNN.ndjson`. A segment is deleted once every
 * record in it is in the store; at start the segments left by a crash are replayed into the store
 * (idempotently: a record already stored is skipped) and deleted.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import { join } from 'node:path';
import type { AuditLog } from './auditLog.ts';
import { hookCallKey, type PreparedHookRecord, prepareHookRecord } from './hookRecord.ts';
import type { HookInvocation } from './records.ts';

/** One journaled record: the validated, storable hook invocation. */
export interface JournalLine {
  record: HookInvocation;
}

export interface ReplayResult {
  replayed: number;
  /** Already in the store (written before the crash, journal not yet truncated). */
  skipped: number;
  /** Torn lines at the end of a segment (never acknowledged). */
  unreadable: number;
  /** Records the store refused even alone. */
  failed: number;
}

/** Where a record sits in the journal, to be released once it is in the store (or has failed for good). */
export interface JournalTicket {
  readonly segment: number;
}

interface Segment {
  n: number;
  file: string;
  handle: FileHandle;
  bytes: number;
  /** Records appended and not yet released. */
  outstanding: number;
  closed: boolean;
}

const SEGMENT_BYTES = 4 * 1024 * 1024;
const NAME = /^(\d{10})\.ndjson$/;

export function journalDir(dataDir: string): string {
  return join(dataDir, 'audit-journal');
}

function fsyncDir(dir: string): void {
  try {
    const fd = openSync(dir, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    // some platforms cannot fsync a directory; the file's own fsync still holds its content
  }
}

function segmentsIn(dir: string): number[] {
  return readdirSync(dir)
    .map((f) => NAME.exec(f))
    .filter((m): m is RegExpExecArray => !!m)
    .map((m) => Number(m[1]))
    .sort((a, b) => a - b);
}

const segmentFile = (dir: string, n: number) => join(dir, `${String(n).padStart(10, '0')}.ndjson`);

interface Waiter {
  line: string;
  resolve: (t: JournalTicket) => void;
  reject: (e: unknown) => void;
}

export class HookJournal {
  readonly dir: string;
  private current?: Segment;
  private readonly segments = new Map<number, Segment>();
  private nextSegment: number;
  private waiting: Waiter[] = [];
  private syncing: Promise<void> | null = null;
  /** fsync calls made (each covers a group of records). */
  syncs = 0;

  private constructor(dir: string, next: number) {
    this.dir = dir;
    this.nextSegment = next;
  }

  /** Opens the journal; segments already there are left for `replay` (call it before appending). */
  static open(dataDir: string): HookJournal {
    const dir = journalDir(dataDir);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const existing = segmentsIn(dir);
    return new HookJournal(dir, (existing.at(-1) ?? 0) + 1);
  }

  /** Segments on disk that this journal did not write: what an earlier run left behind. */
  pendingSegments(): number[] {
    return segmentsIn(this.dir).filter((n) => !this.segments.has(n));
  }

  /**
   * Writes what earlier runs journaled and did not store into the store, skipping records already there
   * (matched on hookInstance and recordedAt), then deletes their segments. Throws (leaving the segments)
   * when the store cannot be written.
   */
  async replay(log: AuditLog, batch = 200): Promise<ReplayResult> {
    const result: ReplayResult = { replayed: 0, skipped: 0, unreadable: 0, failed: 0 };
    for (const n of this.pendingSegments()) {
      const file = segmentFile(this.dir, n);
      const records: HookInvocation[] = [];
      for (const line of readFileSync(file, 'utf8').split('\n')) {
        if (!line) continue;
        try {
          records.push((JSON.parse(line) as JournalLine).record);
        } catch {
          // a line torn by the crash: its fsync never completed, so it was never acknowledged
          result.unreadable++;
        }
      }
      for (let i = 0; i < records.length; i += batch) {
        const chunk = records.slice(i, i + batch);
        const stored = await log.storedHookCalls(chunk);
        const prepared: PreparedHookRecord[] = [];
        for (const r of chunk) {
          if (stored.has(hookCallKey(r))) result.skipped++;
          else {
            try {
              prepared.push(prepareHookRecord(r));
            } catch {
              result.failed++;
            }
          }
        }
        for (const out of await log.writeHookInvocationsSettled(prepared)) {
          if (out instanceof Error) result.failed++;
          else result.replayed++;
        }
      }
      rmSync(file, { force: true });
    }
    fsyncDir(this.dir);
    return result;
  }

  /** Appends a record; resolves once it is on disk (fsynced in a group with the records around it). */
  append(record: HookInvocation): Promise<JournalTicket> {
    const line = `${JSON.stringify({ record } satisfies JournalLine)}\n`;
    const done = new Promise<JournalTicket>((resolve, reject) => this.waiting.push({ line, resolve, reject }));
    this.kick();
    return done;
  }

  private async rotate(): Promise<Segment> {
    const old = this.current;
    const n = this.nextSegment++;
    const file = segmentFile(this.dir, n);
    const handle = await open(file, 'a', 0o600);
    fsyncDir(this.dir);
    const seg: Segment = { n, file, handle, bytes: 0, outstanding: 0, closed: false };
    this.segments.set(n, seg);
    this.current = seg;
    if (old) {
      old.closed = true;
      await this.retireIfDone(old);
    }
    return seg;
  }

  private kick(): void {
    if (this.syncing) return;
    this.syncing = (async () => {
      while (this.waiting.length) {
        const group = this.waiting;
        this.waiting = [];
        try {
          const seg =
            !this.current || this.current.closed || this.current.bytes >= SEGMENT_BYTES
              ? await this.rotate()
              : this.current;
          const text = group.map((w) => w.line).join('');
          await seg.handle.write(text);
          await seg.handle.datasync();
          this.syncs++;
          seg.bytes += Buffer.byteLength(text);
          seg.outstanding += group.length;
          for (const w of group) w.resolve({ segment: seg.n });
        } catch (err) {
          for (const w of group) w.reject(err);
        }
      }
    })().finally(() => {
      this.syncing = null;
      if (this.waiting.length) this.kick();
    });
  }

  /** The record is in the store (or failed for good): its segment goes once nothing in it is outstanding. */
  release(ticket: JournalTicket): void {
    const seg = this.segments.get(ticket.segment);
    if (!seg) return;
    seg.outstanding--;
    void this.retireIfDone(seg);
  }

  private async retireIfDone(seg: Segment): Promise<void> {
    if (seg.outstanding > 0) return;
    // The segment in use stays until it is full (the writer then starts the next one).
    if (!seg.closed && seg === this.current && seg.bytes < SEGMENT_BYTES) return;
    if (seg === this.current) {
      if (this.syncing) return; // a group is being written to it; it is retired when released next
      seg.closed = true;
      this.current = undefined;
    }
    if (!this.segments.delete(seg.n)) return;
    await seg.handle.close().catch(() => undefined);
    rmSync(seg.file, { force: true });
  }

  /** Records journaled and not yet released. */
  get outstanding(): number {
    let n = 0;
    for (const s of this.segments.values()) n += s.outstanding;
    return n;
  }

  /** Closes the files; a segment with records not yet stored stays for the next start's replay. */
  async close(): Promise<void> {
    while (this.syncing) await this.syncing;
    for (const seg of [...this.segments.values()]) {
      await seg.handle.close().catch(() => undefined);
      this.segments.delete(seg.n);
      if (seg.outstanding === 0) rmSync(seg.file, { force: true });
    }
    this.current = undefined;
  }
}
