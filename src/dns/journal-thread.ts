/**
 * The journal thread: the only owner of the journal's SQLite connection. It
 * appends the batches the main thread sends and acknowledges each after its
 * group commit and the fsync that covers it (on the libuv pool, so commits go
 * on meanwhile; never on the thread that answers queries), and serves the
 * sender thread's reads and settlements over their own channel. Started by
 * journal-threads.ts.
 */
import { parentPort, workerData, type MessagePort } from "node:worker_threads";
import { Journal } from "./journal.js";
import type { Appended, FromJournalThread, JournalReply, JournalRequest, JournalThreadData, ToJournalThread } from "./thread-messages.js";

if (parentPort) {
  const main = parentPort;
  const data = workerData as JournalThreadData;
  const post = (message: FromJournalThread) => main.postMessage(message);
  /** Travel with the next acknowledgement rather than as messages of their own, a thousand a second. */
  let commitSeconds: number[] = [];
  let syncSeconds: number[] = [];
  const journal = new Journal(data.dataDir, {
    synchronous: data.synchronous,
    observer: { observeCommit: (_jobs, seconds) => commitSeconds.push(seconds) },
    observeSync: (seconds) => syncSeconds.push(seconds),
  });
  let senderPort: MessagePort;
  /**
   * The sender found the journal empty and waits for a nudge. Only then is one
   * sent: a sender in a round reads the new events in its next round anyway,
   * and a nudge per commit would wake it a thousand times a second for nothing.
   */
  let senderWaiting = false;

  /** Answers on the port each request came by, so a restarted sender never gets its predecessor's answers. */
  const serveSender = (port: MessagePort) => {
    senderPort = port;
    senderWaiting = false;
    const reply = (message: JournalReply) => port.postMessage(message);
    port.on("message", (request: JournalRequest) => {
      const { request: id } = request;
      let done: Promise<void>;
      if (request.type === "oldest") {
        done = Promise.resolve().then(() => {
          const entries = journal.oldest(request.limit);
          senderWaiting = entries.length === 0;
          reply({ type: "entries", request: id, entries });
        });
      } else {
        const { delivered, refused } = request;
        done = journal.settle(delivered, refused).then(() => {
          post({ type: "settled", events: delivered.length + refused.length });
          reply({ type: "settled", request: id });
        });
      }
      done.catch((error: unknown) => reply({ type: "failed", request: id, message: errorMessage(error) }));
    });
  };
  serveSender(data.senderPort);

  main.on("message", (message: ToJournalThread) => {
    if (message.type === "stop") {
      // Appends made durable by the last fsync are acknowledged before the thread goes.
      void journal.close().then(() => {
        sendAcknowledged();
        process.exit(0);
      });
      return;
    }
    if (message.type === "sender") {
      senderPort.close();
      serveSender(message.port);
      return;
    }
    const { batch, events } = message;
    void Promise.allSettled(events.map((event) => journal.append(event))).then((results) => {
      const failures: { index: number; message: string }[] = [];
      results.forEach((result, index) => {
        if (result.status === "rejected") failures.push({ index, message: errorMessage(result.reason) });
      });
      acknowledge({ batch, failures });
      if (senderWaiting && failures.length < events.length) {
        senderWaiting = false;
        senderPort.postMessage({ type: "journaled" } satisfies JournalReply);
      }
    });
  });

  /**
   * The batches one fsync made durable usually settle in the same turn of
   * the event loop: they travel as one message, since each message costs
   * both threads tens of microseconds.
   */
  let acknowledged: Appended[] = [];
  const acknowledge = (appended: Appended) => {
    acknowledged.push(appended);
    if (acknowledged.length === 1) setImmediate(sendAcknowledged);
  };
  function sendAcknowledged() {
    if (acknowledged.length === 0) return;
    post({ type: "appended", batches: acknowledged, commitSeconds, syncSeconds });
    acknowledged = [];
    commitSeconds = [];
    syncSeconds = [];
  }

  post({ type: "ready", pending: journal.pending });
}

function errorMessage(error: unknown): string {
  const cause = error instanceof Error && error.cause instanceof Error ? `: ${error.cause.message}` : "";
  return error instanceof Error ? `${error.message}${cause}` : String(error);
}
