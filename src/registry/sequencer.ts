/**
 * The single writer. Use-cases submit jobs; on the next turn of the event loop
 * every queued job runs inside one SQLite transaction and the batch commits
 * once. With synchronous=FULL that is one fsync per batch: durable throughput
 * grows with load instead of being capped by fsync latency. When a job throws,
 * the attempt is rolled back and the batch runs again with each job in its own
 * savepoint, so the failing job fails alone (savepoints cost a measurable
 * share of a beacon hit, so they are only paid for when needed). A job's
 * promise settles only after the commit: nothing is acknowledged before it is
 * on disk. Jobs may therefore run twice and must only touch the database.
 * The head covering a commit is published behind it (`committed`), not
 * waited for: reads that need it wait instead (head-publication.ts).
 */
import { performance } from "node:perf_hooks";
import type Database from "better-sqlite3";
import { serverError } from "../core/errors.js";

/** What the sequencer reports about each transaction (the registry's metrics). */
export interface CommitObserver {
  /** One transaction of `jobs` jobs took `seconds`; `ok` false: it could not be committed and every job got a 503. */
  observeCommit(jobs: number, seconds: number, ok: boolean): void;
}

export interface SequencerOptions {
  /** Called after the log changed underneath (a rolled-back job appended leaves). */
  resync: () => void;
  observer?: CommitObserver;
  /** Upper bound on jobs per transaction, so one commit never holds the loop for long. */
  maxBatch?: number;
  /** Runs inside every batch's transaction after its jobs (the head signer's row). */
  beforeCommit?: () => void;
  /** After every commit, before its jobs settle: starts publishing the head covering it, without waiting for it. */
  committed?: () => void;
}

interface Job {
  run: () => unknown;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

export class WriteSequencer {
  private queue: Job[] = [];
  private scheduled = false;
  private readonly maxBatch: number;

  constructor(
    private readonly db: Database.Database,
    private readonly options: SequencerOptions,
  ) {
    this.maxBatch = options.maxBatch ?? 1000;
  }

  submit<T>(run: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ run, resolve: resolve as (value: unknown) => void, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  /** Jobs waiting for the next batch. */
  get pending(): number {
    return this.queue.length;
  }

  /** Resolves once every submitted job has been committed or failed. */
  async drain(): Promise<void> {
    while (this.queue.length > 0 || this.scheduled) await new Promise((resolve) => setImmediate(resolve));
  }

  private flush(): void {
    const batch = this.queue.splice(0, this.maxBatch);
    this.scheduled = this.queue.length > 0;
    if (this.scheduled) setImmediate(() => this.flush());
    if (batch.length === 0) return;

    const started = performance.now();
    const observe = (ok: boolean) => this.options.observer?.observeCommit(batch.length, (performance.now() - started) / 1000, ok);
    let outcomes: Outcome[];
    try {
      outcomes = this.runTogether(batch);
    } catch (error) {
      this.options.resync();
      if (!(error instanceof JobFailed)) {
        observe(false);
        const failure = serverError("the write could not be committed", { status: 503, cause: error });
        for (const job of batch) job.reject(failure);
        return;
      }
      outcomes = batch.length === 1 ? [{ ok: false, error: error.error }] : this.runIsolated(batch);
      if (outcomes.length === 0) {
        observe(false);
        return;
      }
    }
    observe(true);
    this.options.committed?.();
    batch.forEach((job, i) => {
      const outcome = outcomes[i]!;
      if (outcome.ok) job.resolve(outcome.value);
      else job.reject(outcome.error);
    });
  }

  /** The common case: every job succeeds, so no savepoints are needed. A failing job aborts the whole attempt. */
  private runTogether(batch: Job[]): Outcome[] {
    return this.db
      .transaction(() => {
        const outcomes = batch.map((job): Outcome => {
          try {
            return { ok: true, value: job.run() };
          } catch (error) {
            // Rolled back whole (SQLITE_FULL, SQLITE_IOERR): the batch failed, not this job alone, even when it is the only one.
            if (!this.db.inTransaction) throw error;
            throw new JobFailed(error);
          }
        });
        this.options.beforeCommit?.();
        return outcomes;
      })
      .immediate();
  }

  /** After a failure: the batch again, each job in its own savepoint, so the failing job fails alone. */
  private runIsolated(batch: Job[]): Outcome[] {
    const outcomes: Outcome[] = [];
    try {
      this.db
        .transaction(() => {
          for (const job of batch) {
            try {
              // A nested better-sqlite3 transaction is a savepoint.
              outcomes.push({ ok: true, value: this.db.transaction(job.run)() });
            } catch (error) {
              // SQLite may answer SQLITE_FULL or SQLITE_IOERR by rolling back the whole transaction; the
              // jobs after this one would then each commit on their own, outside the batch that fails.
              if (!this.db.inTransaction) throw error;
              this.options.resync();
              outcomes.push({ ok: false, error });
            }
          }
          this.options.beforeCommit?.();
        })
        .immediate();
    } catch (error) {
      this.options.resync();
      const failure = serverError("the write could not be committed", { status: 503, cause: error });
      for (const job of batch) job.reject(failure);
      return [];
    }
    return outcomes;
  }
}

type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };

/** Carries a job's own error out of the optimistic transaction, apart from a failure to begin or commit. */
class JobFailed {
  constructor(readonly error: unknown) {}
}
