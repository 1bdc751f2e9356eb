/**
 * Hook invocations are written to the store in group commits: calls that arrive while one transaction is
 * being written go into the next, together, and the store sees one transaction per batch instead of one
 * per call. With a journal (see journal.ts) a record is durable — fsynced to the data directory — before
 * the answer is sent (`record`), and written to the store afterwards; without one, `record` waits for the
 * commit.
 *
 * Failures: a batch the store refuses is written again record by record, so only a record the store
 * refuses on its own fails (counted in `failed`). While the store is unreachable the batch stays at the
 * head of the queue and is tried again with back-off. The queue is bounded: past `maxPending` records it
 * stops accepting (`accepting()`), and the CDS route answers 503 with Retry-After instead of answering a
 * call it could not record. `stop()` stops accepting; `flush()` writes everything pending (shutdown).
 */
import { OsteoWatchError } from '../errors.ts';
import { isUnavailable } from '../store/db.ts';
import type { Appended, AuditLog } from './auditLog.ts';
import { type PreparedHookRecord, prepareHookRecord } from './hookRecord.ts';
import type { HookJournal, JournalTicket } from './journal.ts';
import type { HookInvocationInput } from './records.ts';

interface Pending {
  record: PreparedHookRecord;
  ticket?: JournalTicket;
  resolve: (a: Appended) => void;
  reject: (e: unknown) => void;
}

export interface HookAuditQueueOptions {
  maxBatch?: number;
  /** Records held in memory before `accepting()` turns false (back-pressure). */
  maxPending?: number;
  lingerMs?: number;
  /** Write-ahead journal: `record` resolves once the record is fsynced there. */
  journal?: HookJournal;
  /** Told about every record that failed for good (validation, or the store refused it alone). */
  onFailure?: (err: unknown) => void;
  /** Back-off while the store is unreachable: first and longest wait. */
  retryMs?: { min: number; max: number };
}

export class HookAuditQueue {
  private readonly log: AuditLog;
  private readonly maxBatch: number;
  private readonly maxPending: number;
  private readonly lingerMs: number;
  private readonly journal?: HookJournal;
  private readonly onFailure?: (err: unknown) => void;
  private readonly retryMs: { min: number; max: number };
  private pending: Pending[] = [];
  /** Records accepted and not yet in `pending` (validating, in the journal's fsync). */
  private arriving = 0;
  private running: Promise<void> | null = null;
  private stopped = false;

  /**
   * `lingerMs`: how long a write waits for company. One call at a time (a single clinician, one EHR
   * connection) would otherwise cost a transaction each; a few milliseconds lets them share one.
   */
  constructor(log: AuditLog, options: HookAuditQueueOptions = {}) {
    this.log = log;
    this.lingerMs = options.lingerMs ?? 10;
    this.maxBatch = options.maxBatch ?? 200;
    this.maxPending = options.maxPending ?? 2000;
    this.journal = options.journal;
    this.onFailure = options.onFailure;
    this.retryMs = options.retryMs ?? { min: 200, max: 5000 };
  }

  get size(): number {
    return this.pending.length + this.arriving;
  }

  /** True when the queue is at its bound (or stopped): new calls should be refused (503), not answered. */
  get full(): boolean {
    return this.stopped || this.size >= this.maxPending;
  }

  /** Whether a hook call may be answered now: its record will be accepted. Ask before computing the answer. */
  accepting(): boolean {
    return !this.full;
  }

  /** True while the last write found the store unreachable (records wait in the queue). */
  storeUnavailable = false;

  /** Records committed and records that failed for good (invalid, or refused by the store alone), since start. */
  written = 0;
  failed = 0;

  /** Stops accepting new calls (shutdown: accepting() turns false); what is queued is still written (see drain). */
  stop(): void {
    this.stopped = true;
  }

  /**
   * For a hook answer: resolves once the record is durable — fsynced in the journal, or without a journal
   * committed to the store. Rejects with an `unavailable` OsteoWatchError (503) when the queue cannot take
   * it, `internal` when the record is invalid. The store write that follows is not awaited; its failure
   * is counted and reported to `onFailure`.
   */
  async record(input: HookInvocationInput): Promise<void> {
    const { durable, committed } = this.submit(input);
    committed.catch(() => undefined);
    await durable;
  }

  /** Validates, journals and queues a record; resolves when it is committed to the store. */
  enqueue(input: HookInvocationInput): Promise<Appended> {
    const { durable, committed } = this.submit(input);
    durable.catch(() => undefined);
    return committed;
  }

  private submit(input: HookInvocationInput): { durable: Promise<void>; committed: Promise<Appended> } {
    // A hard bound twice the soft one: calls that passed accepting() while it was true may still arrive.
    // (Calls in flight when the queue was stopped are still taken: they passed accepting() and are drained.)
    if (this.size >= this.maxPending * 2) {
      const err = new OsteoWatchError('unavailable', 'the audit trail is behind; try again shortly');
      return { durable: Promise.reject(err), committed: Promise.reject(err) };
    }
    let record: PreparedHookRecord;
    try {
      record = prepareHookRecord(input);
    } catch (err) {
      this.failed++;
      this.onFailure?.(err);
      const e = new OsteoWatchError('internal', `the audit record is invalid: ${(err as Error).message}`);
      return { durable: Promise.reject(e), committed: Promise.reject(e) };
    }
    let resolveCommitted!: (a: Appended) => void;
    let rejectCommitted!: (e: unknown) => void;
    const committed = new Promise<Appended>((resolve, reject) => {
      resolveCommitted = resolve;
      rejectCommitted = reject;
    });
    const item: Pending = { record, resolve: resolveCommitted, reject: rejectCommitted };
    if (!this.journal) {
      this.pending.push(item);
      this.kick();
      return { durable: committed.then(() => undefined), committed };
    }
    this.arriving++;
    const durable = this.journal.append(record.record).then(
      (ticket) => {
        this.arriving--;
        item.ticket = ticket;
        this.pending.push(item);
        this.kick();
      },
      (err) => {
        this.arriving--;
        const e = new OsteoWatchError('unavailable', `the audit journal cannot be written: ${(err as Error).message}`);
        rejectCommitted(e);
        throw e;
      },
    );
    return { durable, committed };
  }

  private kick(): void {
    if (this.running) return;
    this.running = (async () => {
      await new Promise((r) =>
        this.pending.length >= this.maxBatch || this.lingerMs <= 0 ? setImmediate(r) : setTimeout(r, this.lingerMs),
      );
      let wait = this.retryMs.min;
      while (this.pending.length) {
        const batch = this.pending.slice(0, this.maxBatch);
        let results: Array<Appended | Error>;
        try {
          results = await this.log.writeHookInvocationsSettled(batch.map((b) => b.record));
        } catch (err) {
          if (!isUnavailable(err)) throw err;
          // The store is unreachable: the batch stays queued (and journaled); try again later.
          this.storeUnavailable = true;
          await this.sleep(wait);
          wait = Math.min(wait * 2, this.retryMs.max);
          continue;
        }
        this.storeUnavailable = false;
        wait = this.retryMs.min;
        this.pending.splice(0, batch.length);
        for (const [i, b] of batch.entries()) {
          const r = results[i]!;
          if (b.ticket) this.journal?.release(b.ticket);
          if (r instanceof Error) {
            this.failed++;
            this.onFailure?.(r);
            b.reject(r);
          } else {
            this.written++;
            b.resolve(r);
          }
        }
      }
    })()
      .catch((err) => {
        // Not a store outage and not one record: fail what was being written rather than loop on it.
        const batch = this.pending.splice(0, this.maxBatch);
        for (const b of batch) {
          if (b.ticket) this.journal?.release(b.ticket);
          this.failed++;
          b.reject(err);
        }
        this.onFailure?.(err);
      })
      .finally(() => {
        this.running = null;
        if (this.pending.length) this.kick();
      });
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => setTimeout(resolve, ms));
  }

  /** Waits until everything accepted so far is written. */
  async flush(): Promise<void> {
    await this.drain();
  }

  /**
   * Waits until everything accepted so far is written; with `timeoutMs`, gives up after that long and
   * returns false (what is left stays in the journal, for the next start's replay).
   */
  async drain(timeoutMs?: number): Promise<boolean> {
    const deadline = timeoutMs === undefined ? Infinity : Date.now() + timeoutMs;
    while (this.running || this.pending.length || this.arriving) {
      if (Date.now() >= deadline) return false;
      this.kick();
      const step = new Promise<void>((r) => setTimeout(r, Math.max(1, Math.min(250, deadline - Date.now()))));
      await Promise.race([this.running ?? step, step]);
    }
    return true;
  }
}
