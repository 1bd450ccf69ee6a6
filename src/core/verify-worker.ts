/**
 * The body of a signature verification worker, started by verify-pool.ts.
 * Once its modules are loaded and it listens, it says so (the pool times
 * stalls from then on); then it answers each batch with `firstVerified`, the
 * very function the calling thread runs, so both give the same answers.
 */
import { parentPort } from "node:worker_threads";
import { firstVerified } from "./signature-check.js";

/** A worker's first message. */
export interface ReadyMessage {
  ready: true;
}

/** One batch on the wire: for each check its key, its signature and its messages, flattened. */
export interface BatchMessage {
  counts: number[];
  items: (string | Uint8Array)[];
}

function answer({ counts, items }: BatchMessage): number[] {
  const results: number[] = [];
  let at = 0;
  for (const count of counts) {
    const publicKey = items[at] as string;
    const signature = items[at + 1] as string;
    const messages = items.slice(at + 2, at + 2 + count);
    at += 2 + count;
    results.push(firstVerified({ publicKey, signature, messages }));
  }
  return results;
}

if (parentPort) {
  const port = parentPort;
  port.on("message", (batch: BatchMessage) => port.postMessage(answer(batch)));
  port.postMessage({ ready: true } satisfies ReadyMessage);
}
