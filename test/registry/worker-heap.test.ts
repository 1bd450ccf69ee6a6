/**
 * A started registry lowers the young generation of the worker threads
 * started after it (src/memory-settings.ts limitWorkerHeaps), not its own.
 * Alone in its file: the setting is the process's from then on.
 */
import assert from "node:assert/strict";
import { once } from "node:events";
import { test } from "node:test";
import v8 from "node:v8";
import { Worker } from "node:worker_threads";
import { startTestRegistry } from "../http/registry-server.js";

/** Allocates 4M small objects, 200k of them alive at a time, so V8 grows the young generation as far as it may. */
const CHURN = `
  const window = new Array(200000);
  for (let i = 0; i < 4000000; i++) window[i % window.length] = { i };
`;
const YOUNG_KIB = `require("v8").getHeapSpaceStatistics().find((space) => space.space_name === "new_space").space_size / 1024`;

async function workerYoungKiB(): Promise<number> {
  const worker = new Worker(`${CHURN}; require("node:worker_threads").parentPort.postMessage(${YOUNG_KIB});`, { eval: true });
  const [kib] = (await once(worker, "message")) as [number];
  await worker.terminate();
  return kib;
}

function mainYoungKiB(): number {
  new Function(CHURN)();
  return v8.getHeapSpaceStatistics().find((space) => space.space_name === "new_space")!.space_size / 1024;
}

test("once the registry has started, a new worker thread's young generation stays at 1 MiB semi-spaces while the main thread's grows", async (t) => {
  const before = await workerYoungKiB();
  assert.ok(before > 2048, `a worker before the registry started: ${before} KiB of young generation`);
  await startTestRegistry(t);
  const after = await workerYoungKiB();
  assert.ok(after <= 2048, `a worker after the registry started: ${after} KiB of young generation`);
  const main = mainYoungKiB();
  assert.ok(main > 2048, `the main thread: ${main} KiB of young generation`);
});
