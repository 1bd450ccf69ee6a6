/**
 * The sender thread: delivers the journal to the registry (sender.ts), so the
 * HTTP work of thousands of deliveries a second never runs on the thread that
 * answers queries. It reads and settles the journal by asking that thread,
 * which owns it; its counts and log lines go there too. Started by
 * bridge-journal.ts.
 */
import { parentPort, workerData, type MessagePort } from "node:worker_threads";
import { deliveryTarget } from "./delivery.js";
import type { JournalEntry } from "./journal.js";
import { Sender, type SenderJournal } from "./sender.js";
import { threadLogger, type FromSenderThread, type JournalReply, type JournalRequest, type SenderThreadData, type ToSenderThread } from "./thread-messages.js";

/** The main thread's journal, one request at a time over the channel. */
class RemoteJournal implements SenderJournal {
  private nextRequest = 0;
  private readonly waiting = new Map<number, { resolve: (reply: JournalReply) => void; reject: (error: Error) => void }>();

  constructor(
    private readonly port: MessagePort,
    onJournaled: () => void,
  ) {
    port.on("message", (reply: JournalReply) => {
      if (reply.type === "journaled") return onJournaled();
      const waiter = this.waiting.get(reply.request);
      this.waiting.delete(reply.request);
      if (reply.type === "failed") waiter?.reject(new Error(reply.message));
      else waiter?.resolve(reply);
    });
  }

  async oldest(limit: number): Promise<JournalEntry[]> {
    const reply = await this.ask((request) => ({ type: "oldest", request, limit }));
    return reply.type === "entries" ? reply.entries : [];
  }

  async settle(delivered: JournalEntry[], refused: { entry: JournalEntry; status: number; answer: string }[]): Promise<void> {
    if (delivered.length === 0 && refused.length === 0) return;
    await this.ask((request) => ({ type: "settle", request, delivered, refused }));
  }

  private ask(build: (request: number) => JournalRequest): Promise<JournalReply> {
    const request = this.nextRequest++;
    return new Promise((resolve, reject) => {
      this.waiting.set(request, { resolve, reject });
      this.port.postMessage(build(request));
    });
  }
}

if (parentPort) {
  const main = parentPort;
  const data = workerData as SenderThreadData;
  const post = (message: FromSenderThread) => main.postMessage(message);
  // A nudge can only arrive once this synchronous start-up is over, so `sender` is set by then.
  const journal = new RemoteJournal(data.journalPort, () => sender.notify());
  const sender = new Sender({
    journal,
    target: deliveryTarget(data.registryUrl, data.secret, data.timeoutMs, data.window),
    window: data.window,
    batchReprobeMs: data.batchReprobeMs,
    backoff: data.backoff,
    metrics: { add: (name, by = 1) => by !== 0 && post({ type: "count", name, by }) },
    logger: threadLogger(data.logLevel, post),
  });
  main.on("message", (message: ToSenderThread) => {
    if (message.type === "stop") void sender.stop().then(() => process.exit(0));
  });
}
