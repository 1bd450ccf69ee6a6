/** A verification worker that answers every batch without first saying it is ready. */
import { parentPort } from "node:worker_threads";
import type { BatchMessage } from "../../../src/core/verify-worker.js";

// `node --test build/test/` also runs this file on its own, on a main thread, where it has nothing to do.
if (parentPort) {
  const port = parentPort;
  port.on("message", ({ counts }: BatchMessage) => port.postMessage(counts.map(() => 0)));
}
