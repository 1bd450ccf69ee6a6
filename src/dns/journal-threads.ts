/**
 * The journal as the main thread sees it. Two worker threads do the slow
 * work, so the thread that answers queries never blocks on it: the journal
 * thread (journal-thread.ts) owns the SQLite file and does every commit and
 * fsync, the sender thread (sender-thread.ts) delivers to the registry. A
 * read-only connection here serves the status page and the gauges.
 *
 * Appends made during one turn of the event loop travel as one message, and
 * each resolves when the journal thread reports its group commit done. When
 * the journal thread dies, every append not yet acknowledged fails at once
 * (its query is answered SERVFAIL), appends fail while it is down, and it and
 * a new sender start again after a backoff. When the sender thread dies, only
 * it is started again; answering and journaling go on. The file is the queue:
 * what was acknowledged stays, and what was in flight to the registry is sent
 * again under its event_id. The journal thread is only ever asked to stop,
 * never terminated: terminating a thread inside a better-sqlite3 call can
 * abort the whole process (WiseLibs/better-sqlite3#1507).
 */
import type Database from "better-sqlite3";
import { MessageChannel, Worker, type MessagePort } from "node:worker_threads";
import type { Logger } from "../log.js";
import type { Synchronous } from "../registry/database.js";
import { retryDelayMs, type BackoffPolicy } from "./backoff.js";
import { openJournalReadOnly, readBacklog, readDeadLetters, readOldest, type Backlog, type DeadLetter, type JournalEntry, type NewEvent } from "./journal.js";
import type { Counters, Observations } from "./metrics.js";
import {
  relayLog,
  type Appended,
  type FromJournalThread,
  type FromSenderThread,
  type JournalThreadData,
  type SenderThreadData,
  type ToJournalThread,
  type ToSenderThread,
} from "./thread-messages.js";

export interface JournalThreadsOptions {
  dataDir: string;
  synchronous: Synchronous;
  registryUrl: string;
  secret: string | null;
  deliveryWindow: number;
  deliveryBatchReprobeMs: number;
  deliveryTimeoutMs: number;
  /** Paces the sender's retries, and the restarts of a thread that died. */
  backoff: BackoffPolicy;
  metrics: Counters & Observations;
  logger: Logger;
}

/** The journal threads are not running (they died and are being restarted, or the bridge is closing). */
export class JournalUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "JournalUnavailableError";
  }
}

interface Batch {
  events: NewEvent[];
  waiters: { resolve: () => void; reject: (error: Error) => void }[];
}

const emptyBatch = (): Batch => ({ events: [], waiters: [] });

export class JournalThreads {
  private journalThread: Worker | null = null;
  private senderThread: Worker | null = null;
  private reader: Database.Database | null = null;
  private queued = emptyBatch();
  private scheduled = false;
  private readonly inFlight = new Map<number, Batch>();
  private nextBatch = 0;
  private uncommittedCount = 0;
  /** Committed and undelivered, as the journal thread reported: its count at start, plus appends, minus settled events. */
  private committedPending = 0;
  /** The journal thread being stopped by close(): its last acknowledgements still count. */
  private stopping: Worker | null = null;
  private restarts = 0;
  private restartTimer: NodeJS.Timeout | null = null;
  private closing = false;

  private constructor(private readonly options: JournalThreadsOptions) {}

  /** Starts both threads; rejects when the journal cannot be opened. */
  static async start(options: JournalThreadsOptions): Promise<JournalThreads> {
    const journal = new JournalThreads(options);
    await journal.spawn();
    try {
      journal.reader = openJournalReadOnly(options.dataDir);
    } catch (error) {
      await journal.close();
      throw error;
    }
    return journal;
  }

  /** Events not yet delivered nor dead-lettered, appends not yet committed included. */
  get pending(): number {
    return this.committedPending + this.uncommittedCount;
  }

  /** Appends waiting for their group commit. */
  get uncommitted(): number {
    return this.uncommittedCount;
  }

  /** The running threads, null while one is down (tests stop one to see the bridge survive it). */
  get workers(): { journal: Worker | null; sender: Worker | null } {
    return { journal: this.journalThread, sender: this.senderThread };
  }

  /** Resolves once the event is committed; rejects when it could not be (the query is then answered SERVFAIL). */
  append(event: NewEvent): Promise<void> {
    if (this.journalThread === null) return Promise.reject(new JournalUnavailableError("the journal thread is not running"));
    return new Promise<void>((resolve, reject) => {
      this.queued.events.push(event);
      this.queued.waiters.push({ resolve, reject });
      this.uncommittedCount++;
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  backlog(): Backlog {
    return readBacklog(this.db());
  }

  deadLetters(limit: number): DeadLetter[] {
    return readDeadLetters(this.db(), limit);
  }

  oldest(limit: number): JournalEntry[] {
    return readOldest(this.db(), limit);
  }

  /** Lets the sender finish its round, commits and acknowledges what was appended, then stops both threads. */
  async close(): Promise<void> {
    this.closing = true;
    if (this.restartTimer !== null) clearTimeout(this.restartTimer);
    this.flush();
    const { journalThread, senderThread } = this;
    this.journalThread = null;
    this.stopping = journalThread;
    this.senderThread = null;
    if (senderThread !== null) await stopThread(senderThread, { type: "stop" } satisfies ToSenderThread);
    if (journalThread !== null) await stopThread(journalThread, { type: "stop" } satisfies ToJournalThread);
    this.stopping = null;
    this.failInFlight(new JournalUnavailableError("the bridge is closing"));
    this.reader?.close();
  }

  private db(): Database.Database {
    if (this.reader === null) throw new Error("the journal is not open");
    return this.reader;
  }

  private flush(): void {
    this.scheduled = false;
    const batch = this.queued;
    this.queued = emptyBatch();
    if (batch.events.length === 0) return;
    if (this.journalThread === null) {
      this.failBatch(batch, new JournalUnavailableError("the journal thread is not running"));
      return;
    }
    const id = this.nextBatch++;
    this.inFlight.set(id, batch);
    this.journalThread.postMessage({ type: "append", batch: id, events: batch.events } satisfies ToJournalThread);
  }

  /** The journal thread, then a sender connected to it. */
  private async spawn(): Promise<void> {
    const { port1, port2 } = new MessageChannel();
    const journal = new Worker(new URL("./journal-thread.js", import.meta.url), {
      workerData: { dataDir: this.options.dataDir, synchronous: this.options.synchronous, senderPort: port1 } satisfies JournalThreadData,
      transferList: [port1],
    });
    let pending: number;
    try {
      pending = await readyOf(journal);
    } catch (error) {
      port2.close();
      throw error;
    }
    if (this.closing) {
      port2.close();
      await stopThread(journal, { type: "stop" });
      return;
    }
    this.journalThread = journal;
    this.committedPending = pending;
    journal.on("message", (message: FromJournalThread) => (this.journalThread === journal || this.stopping === journal) && this.fromJournal(message));
    journal.on("error", (error) => this.journalLost(journal, error));
    journal.on("exit", (code) => this.journalLost(journal, new Error(`exited with code ${code}`)));
    this.startSender(port2);
  }

  private startSender(journalPort: MessagePort): void {
    const { registryUrl, secret, deliveryWindow, deliveryBatchReprobeMs, deliveryTimeoutMs, backoff, logger } = this.options;
    const sender = new Worker(new URL("./sender-thread.js", import.meta.url), {
      workerData: {
        registryUrl,
        secret,
        window: deliveryWindow,
        batchReprobeMs: deliveryBatchReprobeMs,
        timeoutMs: deliveryTimeoutMs,
        backoff,
        logLevel: logger.level,
        journalPort,
      } satisfies SenderThreadData,
      transferList: [journalPort],
    });
    this.senderThread = sender;
    sender.on("message", (message: FromSenderThread) => this.senderThread === sender && this.fromSender(message));
    sender.on("error", (error) => this.senderLost(sender, error));
    sender.on("exit", (code) => this.senderLost(sender, new Error(`exited with code ${code}`)));
  }

  private fromJournal(message: FromJournalThread): void {
    if (message.type === "settled") {
      this.committedPending -= message.events;
      return;
    }
    if (message.type !== "appended") return;
    for (const seconds of message.commitSeconds) this.options.metrics.observe("dns_journal_commit_seconds", seconds);
    for (const seconds of message.syncSeconds) this.options.metrics.observe("dns_journal_fsync_seconds", seconds);
    for (const appended of message.batches) this.appended(appended);
  }

  private appended({ batch: id, failures }: Appended): void {
    const batch = this.inFlight.get(id);
    if (batch === undefined) return;
    this.inFlight.delete(id);
    this.uncommittedCount -= batch.events.length;
    this.committedPending += batch.events.length - failures.length;
    const failed = new Map(failures.map((f) => [f.index, f.message]));
    batch.waiters.forEach((waiter, i) => {
      const failure = failed.get(i);
      if (failure === undefined) waiter.resolve();
      else waiter.reject(new Error(failure));
    });
  }

  private fromSender(message: FromSenderThread): void {
    if (message.type === "log") relayLog(this.options.logger, message.line);
    else this.options.metrics.add(message.name, message.by);
  }

  /** The journal thread died: waiting appends fail, the sender (no SQLite there) is terminated, and both start again. */
  private journalLost(journal: Worker, error: Error): void {
    if (this.journalThread !== journal) return;
    this.journalThread = null;
    const sender = this.senderThread;
    this.senderThread = null;
    void sender?.terminate();
    const failedAppends = this.uncommittedCount;
    this.failInFlight(new JournalUnavailableError("the journal thread stopped"));
    this.options.logger.error("the journal thread stopped: beacon queries are answered SERVFAIL until it is restarted", {
      error,
      failed_appends: failedAppends,
    });
    this.restartLater(async () => {
      await this.spawn();
      this.options.logger.info("the journal thread is running again: beacon queries are recorded", { pending: this.pending });
    });
  }

  /** The sender thread died: the journal keeps everything; a new sender takes over from the oldest undelivered event. */
  private senderLost(sender: Worker, error: Error): void {
    if (this.senderThread !== sender) return;
    this.senderThread = null;
    this.options.logger.error("the sender thread stopped: events are kept in the journal until it is restarted", { error });
    this.restartLater(async () => {
      // A journal thread that died meanwhile brings its own sender when it comes back.
      if (this.journalThread === null) return;
      const { port1, port2 } = new MessageChannel();
      this.journalThread.postMessage({ type: "sender", port: port1 } satisfies ToJournalThread, [port1]);
      this.startSender(port2);
      this.options.logger.info("the sender thread is running again", { pending: this.pending });
    });
  }

  private restartLater(restart: () => Promise<void>): void {
    if (this.closing) return;
    const delay = retryDelayMs(this.options.backoff, ++this.restarts, null, Math.random());
    this.restartTimer = setTimeout(() => {
      this.restartTimer = null;
      if (this.closing) return;
      restart().then(
        () => {
          this.restarts = 0;
        },
        (error: unknown) => {
          this.options.logger.error("could not restart a journal thread; trying again after a backoff", { error });
          this.restartLater(restart);
        },
      );
    }, delay);
  }

  private failInFlight(error: Error): void {
    for (const batch of this.inFlight.values()) this.failBatch(batch, error);
    this.inFlight.clear();
  }

  private failBatch(batch: Batch, error: Error): void {
    this.uncommittedCount -= batch.events.length;
    for (const waiter of batch.waiters) waiter.reject(error);
  }
}

/** The journal thread's first message: the count of undelivered events it found; rejects when it fails first. */
function readyOf(worker: Worker): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const onMessage = (message: FromJournalThread) => {
      if (message.type !== "ready") return;
      worker.off("error", reject).off("exit", onExit).off("message", onMessage);
      resolve(message.pending);
    };
    const onExit = (code: number) => reject(new Error(`the journal thread exited with code ${code} before it was ready`));
    worker.on("message", onMessage).once("error", reject).once("exit", onExit);
  });
}

function stopThread(worker: Worker, stop: ToJournalThread | ToSenderThread): Promise<void> {
  return new Promise<void>((resolve) => {
    worker.once("exit", () => resolve());
    worker.postMessage(stop);
  });
}
