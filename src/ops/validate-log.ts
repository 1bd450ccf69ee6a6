/**
 * Checks of the log itself: every leaf hash and stored subtree hash
 * recomputed (tlog/fsck.ts), the tree extending every signed head recorded
 * for it (the database's tlog_signed row and the data dir's state file), and
 * every beacon leaf backed by an event row.
 */
import type Database from "better-sqlite3";
import { Worker } from "node:worker_threads";
import { z } from "zod";
import { checkLog, type FsckReport } from "../tlog/fsck.js";
import { readStateFile, SignedHeadRow, type SignedRecord } from "../tlog/signed-head-record.js";
import { TlogStore } from "../tlog/store.js";
import type { Findings } from "./validate-findings.js";
import type { ProgressCallback } from "./progress.js";

export const LOG_FIELDS = [
  "leaf_hash_mismatches",
  "node_hash_mismatches",
  "missing_nodes",
  "extra_nodes",
  "non_contiguous_leaves",
  "signed_head_mismatches",
  "malformed_signed_heads",
  "beacon_leaves_without_event",
] as const;

export const SignedHeadCheckSchema = z.object({
  source: z.enum(["database", "state file"]),
  size: z.int().nonnegative().nullable(),
  root: z.string().nullable(),
  /** Whether the log extends this head; null when a damaged log or record leaves it unknown. */
  extended: z.boolean().nullable(),
  /** Why the record cannot be read, in the words the server refuses to sign with; null when it can. */
  problem: z.string().nullable(),
});
export type SignedHeadCheck = z.infer<typeof SignedHeadCheckSchema>;

export interface LogCheckResult {
  fsck: FsckReport;
  signedHeads: SignedHeadCheck[];
}

/** `{"event":"beacon"`: the first bytes of every beacon leaf (JCS puts "event" first). */
const BEACON_LEAF_PREFIX = Buffer.from('{"event":"beacon"', "utf8");

/**
 * Rehashes the whole log on a worker thread (its own read-only connection) and
 * resolves with the report; the caller checks the rows meanwhile. Where no
 * worker can start, it rehashes on this thread instead.
 */
export function rehashLog(db: Database.Database, dbPath: string, onProgress?: ProgressCallback): Promise<FsckReport> {
  const inThread = () => checkLog(db, onProgress ? { onProgress: (done, total) => onProgress({ phase: "tlog", done, total }) } : {});
  return new Promise((resolve, reject) => {
    let worker: Worker;
    try {
      worker = new Worker(new URL("./rehash-worker.js", import.meta.url), { workerData: { dbPath } });
    } catch {
      resolve(inThread());
      return;
    }
    let settled = false;
    const settle = (outcome: () => FsckReport) => {
      if (settled) return;
      settled = true;
      void worker.terminate();
      try {
        resolve(outcome());
      } catch (error) {
        reject(error);
      }
    };
    worker.on("message", (message: { progress?: { done: number; total: number }; report?: FsckReport; error?: string }) => {
      if (message.progress) onProgress?.({ phase: "tlog", ...message.progress });
      else if (message.report) settle(() => message.report!);
      else
        settle(() => {
          throw new Error(`rehashing the log failed: ${message.error}`);
        });
    });
    worker.on("error", () => settle(inThread));
    worker.on("exit", () => settle(inThread));
  });
}

export function checkLogTables(db: Database.Database, findings: Findings, fsck: FsckReport, options: { stateFile: string }): LogCheckResult {
  findings.declare(...LOG_FIELDS);
  const where = fsck.first_bad_indexes;
  const fromFsck: [(typeof LOG_FIELDS)[number], number][] = [
    ["leaf_hash_mismatches", fsck.leaf_hash_mismatches],
    ["node_hash_mismatches", fsck.node_hash_mismatches],
    ["missing_nodes", fsck.missing_nodes],
    ["extra_nodes", fsck.extra_nodes],
    ["non_contiguous_leaves", fsck.non_contiguous],
  ];
  // fsck lists where the log is damaged, not which check each index failed: each failing field shows them all.
  for (const [field, count] of fromFsck) {
    if (count === 0) continue;
    findings.add(field, where[0] ?? "log", count);
    for (const index of where.slice(1)) findings.example(field, index);
  }

  const intact = fsck.non_contiguous === 0 && fsck.leaf_hash_mismatches === 0 && fsck.node_hash_mismatches === 0 && fsck.missing_nodes === 0;
  const signedHeads = [databaseHead(db, fsck), stateFileHead(db, options.stateFile, fsck, intact)].filter((head): head is SignedHeadCheck => head !== null);
  for (const head of signedHeads) {
    if (head.problem !== null) findings.add("malformed_signed_heads", head.source);
    else if (head.extended === false) findings.add("signed_head_mismatches", `${head.source} size ${head.size ?? "?"}`);
  }

  const unlogged = db
    .prepare(
      `SELECT l.idx FROM tlog_leaves l
       WHERE substr(l.leaf_data, 1, ?) = ? AND NOT EXISTS (SELECT 1 FROM events e WHERE e.tlog_index = l.idx)`,
    )
    .pluck()
    .iterate(BEACON_LEAF_PREFIX.length, BEACON_LEAF_PREFIX) as Iterable<number>;
  findings.addAll("beacon_leaves_without_event", unlogged);
  return { fsck, signedHeads };
}

function databaseHead(db: Database.Database, fsck: FsckReport): SignedHeadCheck | null {
  const head = readHead("database", () => new SignedHeadRow(db).read());
  if (head === null || head.problem !== null) return head;
  // fsck compares the root of the leaf data at the signed size; null there means the leaves are not contiguous.
  return { ...head, extended: fsck.signed_root_matches };
}

function stateFileHead(db: Database.Database, stateFile: string, fsck: FsckReport, intact: boolean): SignedHeadCheck | null {
  const head = readHead("state file", () => readStateFile(stateFile));
  if (head === null || head.problem !== null || head.size === null) return head;
  if (head.size > fsck.tlog_size) return { ...head, extended: false };
  // Stored nodes are trusted for the root only once fsck has recomputed every one of them.
  if (!intact) return head;
  return { ...head, extended: new TlogStore(db).root(head.size).toString("hex") === head.root };
}

/**
 * A record read as the server reads it (signed-head-record.ts), `extended`
 * still unknown; one it cannot read carries the reason the server gives.
 */
function readHead(source: SignedHeadCheck["source"], read: () => SignedRecord | null): SignedHeadCheck | null {
  try {
    const record = read();
    return record && { source, size: record.size, root: record.root.toString("hex"), extended: null, problem: null };
  } catch (error) {
    return { source, size: null, root: null, extended: null, problem: error instanceof Error ? error.message : String(error) };
  }
}
