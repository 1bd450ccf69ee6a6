/** A verification worker that answers each check of a batch with the number of checks in that batch. */
import { parentPort } from "node:worker_threads";
import type { BatchMessage, ReadyMessage } from "../../../src/core/verify-worker.js";

// `node --test build/test/` also runs this file on its own, on a main thread, where it has nothing to do.
if (parentPort) {
  const port = parentPort;
  port.on("message", ({ counts }: BatchMessage) => port.postMessage(counts.map(() => counts.length)));
  port.postMessage({ ready: true } satisfies ReadyMessage);
}
