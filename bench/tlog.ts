/**
 * Log store benchmark: `npm run bench:tlog -- --leaves N [--page-size B]`.
 *
 * A child process builds N leaves of ~300 bytes in a temporary file the way
 * the server writes (WAL, synchronous=FULL, one transaction per 1,000
 * appends). This process then opens the existing file, as a restarted server
 * does, and measures opening, proofs, tiles, memory, size on disk and the
 * offline check. Progress goes to stderr; the last stdout line is one JSON
 * object with the results.
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import { PAGE_SIZE } from "../src/registry/database.js";
import { checkLog } from "../src/tlog/fsck.js";
import { verifyConsistency, verifyInclusion } from "../src/tlog/merkle.js";
import { TLOG_SCHEMA_SQL } from "../src/tlog/schema.js";
import { TlogStore } from "../src/tlog/store.js";
import { integerFlag } from "./flags.js";

const BATCH = 1000;
const SAMPLES = 5000;

const leaves = integerFlag(process.argv, "leaves", 1_000_000);
// A new registry database's page size unless told otherwise.
const pageSize = integerFlag(process.argv, "page-size", PAGE_SIZE);

function open(file: string): Database.Database {
  const db = new Database(file);
  // page_size only takes effect on a new file, before WAL is switched on.
  db.pragma(`page_size = ${pageSize}`);
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = FULL");
  db.pragma("cache_size = -8000");
  return db;
}

const pad = "x".repeat(120);
function leafData(i: number): Buffer {
  return Buffer.from(
    `{"event":"beacon","file_id":"file-${i % 9973}","kind":"http_img","recipient_id":"recipient-${i % 131}",` +
      `"source_ip":"203.0.113.${i % 256}","timestamp":"2026-11-23T00:00:00Z","token_id":"tok${i}","user_agent":"${pad}"}`,
  );
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

function timed(samples: number, run: () => void): number[] {
  const times: number[] = [];
  for (let i = 0; i < samples; i++) {
    const start = process.hrtime.bigint();
    run();
    times.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  return times.sort((a, b) => a - b);
}

const round = (x: number, digits = 3) => Number(x.toFixed(digits));
const random = (below: number) => Math.floor(Math.random() * below);
const log = (message: string) => process.stderr.write(`${message}\n`);

/** Child: appends the leaves, prints `{append_per_s, root}`. */
function build(file: string): void {
  const db = open(file);
  db.exec(TLOG_SCHEMA_SQL);
  const store = new TlogStore(db);
  const appendBatch = db.transaction((from: number, to: number) => {
    for (let i = from; i < to; i++) store.append(leafData(i));
  });
  const start = performance.now();
  for (let from = 0; from < leaves; from += BATCH) {
    appendBatch(from, Math.min(from + BATCH, leaves));
    if (from % 100_000 === 0 && from > 0) log(`appended ${from}`);
  }
  const seconds = (performance.now() - start) / 1000;
  const root = store.root().toString("hex");
  db.close();
  console.log(JSON.stringify({ append_per_s: Math.round(leaves / seconds), root }));
}

function measure(file: string): void {
  const child = spawnSync(process.execPath, [process.argv[1]!, ...process.argv.slice(2), "--build-into", file], {
    stdio: ["ignore", "pipe", "inherit"],
    encoding: "utf8",
  });
  if (child.status !== 0) throw new Error(`building the log failed (${child.status ?? child.signal})`);
  const built = JSON.parse(child.stdout.trim().split("\n").at(-1)!) as { append_per_s: number; root: string };
  log(`built ${leaves} leaves: ${built.append_per_s} appends/s`);

  const openStart = performance.now();
  const db = open(file);
  const store = new TlogStore(db);
  const root = store.root();
  const openMs = performance.now() - openStart;
  if (store.size() !== leaves || root.toString("hex") !== built.root) throw new Error("the reopened log differs from the one built");

  for (let k = 0; k < 500; k++) {
    const i = random(leaves);
    if (!verifyInclusion(store.leafHashAt(i), i, leaves, store.inclusionProof(i), root)) throw new Error(`bad inclusion proof for ${i}`);
    const second = 1 + random(leaves);
    const first = random(second + 1);
    const proof = store.consistencyProof(first, second);
    if (!verifyConsistency(first, second, proof, store.root(first), store.root(second))) {
      throw new Error(`bad consistency proof ${first} -> ${second}`);
    }
  }
  const proofTimes = timed(SAMPLES, () => store.inclusionProof(random(leaves)));
  const consistencyTimes = timed(SAMPLES, () => {
    const second = 1 + random(leaves);
    store.consistencyProof(random(second + 1), second);
  });
  const fullTiles: number[] = [];
  for (let level = 0; Math.floor(leaves / 256 ** (level + 1)) > 0; level++) fullTiles.push(Math.floor(leaves / 256 ** (level + 1)));
  const tileTimes = timed(2000, () => {
    const level = random(fullTiles.length);
    if (store.hashTile(level, random(fullTiles[level]!), 256).length !== 256 * 32) throw new Error("short tile");
  });
  const rssMb = process.memoryUsage().rss / 2 ** 20;

  const fsckStart = performance.now();
  const report = checkLog(db);
  const fsckSeconds = (performance.now() - fsckStart) / 1000;
  if (!report.ok || report.root !== built.root) throw new Error(`the check failed: ${JSON.stringify(report)}`);

  db.pragma("wal_checkpoint(TRUNCATE)");
  db.close();
  const bytes = fs.statSync(file).size;

  console.log(
    JSON.stringify({
      leaves,
      append_per_s: built.append_per_s,
      open_ms: round(openMs),
      proof_p50_ms: round(percentile(proofTimes, 50), 4),
      proof_p99_ms: round(percentile(proofTimes, 99), 4),
      consistency_p99_ms: round(percentile(consistencyTimes, 99), 4),
      tile_p99_ms: round(percentile(tileTimes, 99), 4),
      rss_mb: round(rssMb, 1),
      bytes_per_leaf: round(bytes / leaves, 1),
      leaf_bytes: leafData(leaves - 1).length,
      fsck_leaves_per_s: Math.round(leaves / fsckSeconds),
      page_size: pageSize,
      cores: os.availableParallelism(),
    }),
  );
}

const buildInto = process.argv.indexOf("--build-into");
if (buildInto !== -1) {
  build(process.argv[buildInto + 1]!);
} else {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tlog-bench-"));
  try {
    measure(path.join(dir, "bench.sqlite"));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
