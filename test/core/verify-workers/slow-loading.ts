/**
 * A healthy verification worker whose modules take long to load: the real
 * worker, loaded only after LOAD_MS. The test gives the pool a stallMs well
 * below LOAD_MS, so a pool that timed stalls from the thread coming online
 * (rather than from the worker saying it is ready) replaces this worker. The
 * delay only has to be long for that mistake to show: a correct pool waits
 * for the worker to say it is ready (up to `startupMs`, 30 s by default).
 */
import { setTimeout as delay } from "node:timers/promises";
import { parentPort } from "node:worker_threads";

/** Far beyond the stallMs the test gives the pool. */
export const LOAD_MS = 3_000;

// `node --test build/test/` also runs this file on its own, on a main thread, where it has nothing to do.
if (parentPort) {
  await delay(LOAD_MS);
  await import("../../../src/core/verify-worker.js");
}
