/** A verification worker that says it is ready, then never answers. */
import { parentPort } from "node:worker_threads";
import type { ReadyMessage } from "../../../src/core/verify-worker.js";

// `node --test build/test/` also runs this file on its own, on a main thread, where it has nothing to do.
if (parentPort) {
  parentPort.on("message", () => {});
  parentPort.postMessage({ ready: true } satisfies ReadyMessage);
}
