/**
 * The journal on the thread that answers queries, and the sender thread
 * that delivers it. A beacon query's append commits here (group-committed,
 * at NORMAL: SQLite writes the WAL frames and returns), this thread then
 * fdatasyncs the WAL, and the append resolves and its answer is sent. So an
 * answer crosses no thread at all, where handing each query to a journal
 * thread and its acknowledgement back, or the fsync to the libuv pool and its
 * completion back, cost two wake-ups, each a wait for a core on a busy
 * machine.
 *
 * The sender thread (sender-thread.ts) keeps the HTTP work of delivery off
 * this thread; it reads and settles the journal by asking it over a channel,
 * a few times per delivery round. When it dies, answering and journaling go
 * on and a new sender starts after a backoff; what it had in flight is sent
 * again under its event_id.
 */
import { MessageChannel, Worker, type MessagePort } from "node:worker_threads";
import type { Logger } from "../log.js";
import type { Synchronous } from "../registry/database.js";
import { retryDelayMs, type BackoffPolicy } from "./backoff.js";
import { Journal, type Backlog, type DeadLetter, type JournalEntry, type NewEvent } from "./journal.js";
import type { Counters, Observations } from "./metrics.js";
import { relayLog, type FromSenderThread, type JournalReply, type JournalRequest, type SenderThreadData, type ToSenderThread } from "./thread-messages.js";
import type { Fdatasync } from "./wal-sync.js";

export interface BridgeJournalOptions {
  dataDir: string;
  synchronous: Synchronous;
  registryUrl: string;
  secret: string | null;
  deliveryWindow: number;
  deliveryBatchReprobeMs: number;
  deliveryTimeoutMs: number;
  /** Paces the sender's retries, and the restarts of a sender thread that died. */
  backoff: BackoffPolicy;
  metrics: Counters & Observations;
  logger: Logger;
  /** The WAL's fdatasync, default fs.fdatasyncSync (tests look at what it covers, or fail it). */
  fdatasync?: Fdatasync | undefined;
}

export class BridgeJournal {
  private readonly journal: Journal;
  private senderThread: Worker | null = null;
  /** This thread's end of the channel to the running sender; a restarted sender gets a new one. */
  private senderPort: MessagePort | null = null;
  /**
   * The sender found the journal empty and waits for a nudge. Only then is one
   * sent: a sender in a round reads the new events in its next round anyway,
   * and a nudge per append would wake it thousands of times a second for nothing.
   */
  private senderWaiting = false;
  private uncommittedCount = 0;
  private restarts = 0;
  private restartTimer: NodeJS.Timeout | null = null;
  private closing = false;

  /** Opens the journal (throws when it cannot be) and starts the sender thread. */
  constructor(private readonly options: BridgeJournalOptions) {
    const { metrics } = options;
    this.journal = new Journal(options.dataDir, {
      synchronous: options.synchronous,
      observer: { observeCommit: (_jobs, seconds) => metrics.observe("dns_journal_commit_seconds", seconds) },
      observeSync: (seconds) => metrics.observe("dns_journal_fsync_seconds", seconds),
      fdatasync: options.fdatasync,
    });
    this.startSender();
  }

  /** Events not yet delivered nor dead-lettered, appends not yet durable included. */
  get pending(): number {
    return this.journal.pending;
  }

  /** Appends waiting for their commit and its fsync. */
  get uncommitted(): number {
    return this.uncommittedCount;
  }

  /** The running sender thread, null while it is down (tests stop it to see the bridge survive). */
  get sender(): Worker | null {
    return this.senderThread;
  }

  /** Resolves once the event is durable (committed and, with FULL, fsynced); rejects when it could not be made so. */
  async append(event: NewEvent): Promise<void> {
    this.uncommittedCount++;
    try {
      await this.journal.append(event);
    } finally {
      this.uncommittedCount--;
    }
    if (this.senderWaiting) {
      this.senderWaiting = false;
      this.senderPort?.postMessage({ type: "journaled" } satisfies JournalReply);
    }
  }

  backlog(): Backlog {
    return this.journal.backlog();
  }

  deadLetters(limit: number): DeadLetter[] {
    return this.journal.deadLetters(limit);
  }

  /** The oldest undelivered events, in the order they were journaled. */
  oldest(limit: number): JournalEntry[] {
    return this.journal.oldest(limit);
  }

  /** Lets the sender finish its round (settled here), then makes every append durable and closes the journal. */
  async close(): Promise<void> {
    this.closing = true;
    if (this.restartTimer !== null) clearTimeout(this.restartTimer);
    const sender = this.senderThread;
    this.senderThread = null;
    if (sender !== null) {
      await new Promise<void>((resolve) => {
        sender.once("exit", () => resolve());
        sender.postMessage({ type: "stop" } satisfies ToSenderThread);
      });
    }
    this.senderPort?.close();
    this.senderPort = null;
    await this.journal.close();
  }

  private startSender(): void {
    const { port1: journalPort, port2: ours } = new MessageChannel();
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
    this.senderPort?.close();
    this.senderPort = ours;
    this.senderWaiting = false;
    this.serve(ours);
    sender.on("message", (message: FromSenderThread) => this.senderThread === sender && this.fromSender(message));
    sender.on("error", (error) => this.senderLost(sender, error));
    sender.on("exit", (code) => this.senderLost(sender, new Error(`exited with code ${code}`)));
  }

  /** Answers the sender's requests on the port they came by, so a restarted sender never gets its predecessor's answers. */
  private serve(port: MessagePort): void {
    const reply = (message: JournalReply) => port.postMessage(message);
    port.on("message", (request: JournalRequest) => {
      const { request: id } = request;
      const done =
        request.type === "oldest"
          ? Promise.resolve().then(() => {
              const entries = this.journal.oldest(request.limit);
              if (port === this.senderPort) this.senderWaiting = entries.length === 0;
              reply({ type: "entries", request: id, entries });
            })
          : this.journal.settle(request.delivered, request.refused).then(() => reply({ type: "settled", request: id }));
      done.catch((error: unknown) => reply({ type: "failed", request: id, message: errorMessage(error) }));
    });
  }

  private fromSender(message: FromSenderThread): void {
    if (message.type === "log") relayLog(this.options.logger, message.line);
    else this.options.metrics.add(message.name, message.by);
  }

  /** The sender thread died: the journal keeps everything; a new sender takes over from the oldest undelivered event. */
  private senderLost(sender: Worker, error: Error): void {
    if (this.senderThread !== sender) return;
    this.senderThread = null;
    this.options.logger.error("the sender thread stopped: events are kept in the journal until it is restarted", { error });
    this.restartSenderLater();
  }

  private restartSenderLater(): void {
    if (this.closing) return;
    const delay = retryDelayMs(this.options.backoff, ++this.restarts, null, Math.random());
    this.restartTimer = setTimeout(() => {
      this.restartTimer = null;
      if (this.closing) return;
      try {
        this.startSender();
      } catch (error) {
        this.options.logger.error("could not restart the sender thread; trying again after a backoff", { error });
        this.restartSenderLater();
        return;
      }
      this.restarts = 0;
      this.options.logger.info("the sender thread is running again", { pending: this.pending });
    }, delay);
  }
}

function errorMessage(error: unknown): string {
  const cause = error instanceof Error && error.cause instanceof Error ? `: ${error.cause.message}` : "";
  return error instanceof Error ? `${error.message}${cause}` : String(error);
}
