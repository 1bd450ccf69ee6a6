/** A verification worker that listens (which keeps it alive) but never says it is ready. */
import { parentPort } from "node:worker_threads";

// `node --test build/test/` also runs this file on its own, on a main thread, where it has nothing to do.
if (parentPort) parentPort.on("message", () => {});
