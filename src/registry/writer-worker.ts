/**
 * The writer thread: owns the write connection, the write sequencer and
 * every commit. Facts arrive as data (writer-protocol.ts), are applied in
 * group commits (sequencer.ts, write-apply.ts) and answered once per batch
 * of facts, after the commit that holds them is durable. Each batch's
 * transaction also records the size it leaves in the `tlog_signed` row
 * (tlog/head-signer.ts): the head the main thread publishes next is always
 * covered by it.
 */
import { parentPort, workerData } from "node:worker_threads";
import { TlogStore } from "../tlog/store.js";
import { recordCommitted } from "../tlog/head-signer.js";
import { SignedHeadRow } from "../tlog/signed-head-record.js";
import { openDatabase } from "./database.js";
import { WriteSequencer } from "./sequencer.js";
import { FactApplier } from "./write-apply.js";
import type { WriteFact } from "./write-facts.js";
import { toWire, type FromWriter, type ToWriter, type WireError, type WriterData } from "./writer-protocol.js";

/** The writer proves nothing: its store needs the right edge, not the main thread's cache of upper nodes. */
const WRITER_NODE_CACHE_BYTES = 64 * 1024;

const port = parentPort!;
const { file, synchronous } = workerData as WriterData;
const db = openDatabase(file, { synchronous });
const store = new TlogStore(db, { nodeCacheBytes: WRITER_NODE_CACHE_BYTES });
const applier = new FactApplier(db, store);
const row = new SignedHeadRow(db);
const commits: number[] = [];
/** The newest fact's time: what the row records as signed_at, on the registry's clock. */
let latestAt = 0;

const sequencer = new WriteSequencer(db, {
  resync: () => store.reload(),
  observer: { observeCommit: (jobs, seconds, ok) => commits.push(jobs, seconds, ok ? 1 : 0) },
  beforeCommit: () => recordCommitted(row, store, latestAt),
});

port.on("message", (message: ToWriter) => {
  if ("close" in message) {
    void sequencer.drain().then(() => {
      db.close();
      port.close();
    });
    return;
  }
  const facts = JSON.parse(message.facts) as WriteFact[];
  const pending = facts.map((fact) => {
    if (fact.at > latestAt) latestAt = fact.at;
    return sequencer.submit(() => applier.apply(fact));
  });
  void Promise.allSettled(pending).then(answer);
});

/** Once every fact of a message is settled: the store is at the size of the commit that settled the last of them. */
function answer(settled: PromiseSettledResult<number>[]): void {
  const indexes = new Float64Array(settled.length);
  const errors: [number, WireError][] = [];
  settled.forEach((result, i) => {
    if (result.status === "fulfilled") {
      indexes[i] = result.value;
    } else {
      indexes[i] = Number.NaN;
      errors.push([i, toWire(result.reason)]);
    }
  });
  const peaks = Buffer.concat(store.peakHashes());
  const reply: FromWriter = { size: store.size(), peaks, indexes, errors, commits: commits.splice(0) };
  port.postMessage(reply);
}

port.postMessage({ ready: true } satisfies FromWriter);
