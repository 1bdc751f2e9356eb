/**
 * Hook invocations are recorded after the answer is sent, in group commits: calls that arrive while one
 * transaction is being written go into the next, together. The cards never wait for the audit write, and
 * the store sees one transaction per batch instead of one per call. `flush()` on shutdown writes what is
 * pending; the queue is bounded so that a stalled store pushes back instead of growing without limit.
 */
import type { Appended, AuditLog } from './auditLog.ts';
import { type PreparedHookRecord, prepareHookRecord } from './hookRecord.ts';
import type { HookInvocationInput } from './records.ts';

interface Pending {
  record: PreparedHookRecord;
  resolve: (a: Appended) => void;
  reject: (e: unknown) => void;
}

export class HookAuditQueue {
  private readonly log: AuditLog;
  private readonly maxBatch: number;
  private readonly maxPending: number;
  private readonly lingerMs: number;
  private pending: Pending[] = [];
  private running: Promise<void> | null = null;

  /**
   * `lingerMs`: how long a write waits for company. One call at a time (a single clinician, one EHR
   * connection) would otherwise cost a transaction each; a few milliseconds lets them share one.
   */
  constructor(log: AuditLog, options: { maxBatch?: number; maxPending?: number; lingerMs?: number } = {}) {
    this.log = log;
    this.lingerMs = options.lingerMs ?? 10;
    this.maxBatch = options.maxBatch ?? 200;
    this.maxPending = options.maxPending ?? 10_000;
  }

  get size(): number {
    return this.pending.length;
  }

  /** Records committed and records whose write failed, since start (for /metrics). */
  written = 0;
  failed = 0;

  /**
   * Validates and serialises now (so a bad record fails alone, and a batch is only hashed and written),
   * writes soon; resolves when committed.
   */
  async enqueue(input: HookInvocationInput): Promise<Appended> {
    const record = prepareHookRecord(input);
    while (this.pending.length >= this.maxPending) await this.running;
    const done = new Promise<Appended>((resolve, reject) => this.pending.push({ record, resolve, reject }));
    this.kick();
    return done;
  }

  private kick(): void {
    if (this.running) return;
    this.running = (async () => {
      await new Promise((r) =>
        this.pending.length >= this.maxBatch || this.lingerMs <= 0 ? setImmediate(r) : setTimeout(r, this.lingerMs),
      );
      while (this.pending.length) {
        const batch = this.pending.splice(0, this.maxBatch);
        try {
          const results = await this.log.writeHookInvocations(batch.map((b) => b.record));
          this.written += batch.length;
          for (const [i, b] of batch.entries()) b.resolve(results[i]!);
        } catch (err) {
          this.failed += batch.length;
          for (const b of batch) b.reject(err);
        }
      }
    })().finally(() => {
      this.running = null;
      if (this.pending.length) this.kick();
    });
  }

  /** Waits until everything enqueued so far is written. */
  async flush(): Promise<void> {
    while (this.running || this.pending.length) {
      this.kick();
      await this.running;
    }
  }
}
