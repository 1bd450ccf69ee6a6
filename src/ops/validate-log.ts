/**
 * Checks of the log itself: every leaf hash and stored subtree hash
 * recomputed (tlog/fsck.ts), the tree extending every signed head recorded
 * for it (the database's tlog_signed row and the data dir's state file), and
 * every beacon leaf backed by an event row.
 */
import type Database from "better-sqlite3";
import { readFileSync } from "node:fs";
import { Worker } from "node:worker_threads";
import { z } from "zod";
import { checkLog, type FsckReport } from "../tlog/fsck.js";
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
  "beacon_leaves_without_event",
] as const;

export const SignedHeadCheckSchema = z.object({
  source: z.enum(["database", "state file"]),
  size: z.int().nonnegative().nullable(),
  root: z.string().nullable(),
  /** Whether the log extends this head; null when a damaged log leaves it unknown. */
  extended: z.boolean().nullable(),
});
export type SignedHeadCheck = z.infer<typeof SignedHeadCheckSchema>;

export interface LogCheckResult {
  fsck: FsckReport;
  signedHeads: SignedHeadCheck[];
}

const StateFileSchema = z.looseObject({
  size: z.int().nonnegative(),
  root: z.string().regex(/^[0-9a-fA-F]{64}$/),
});

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
      else settle(() => {
        throw new Error(`rehashing the log failed: ${message.error}`);
      });
    });
    worker.on("error", () => settle(inThread));
    worker.on("exit", () => settle(inThread));
  });
}

export function checkLogTables(
  db: Database.Database,
  findings: Findings,
  fsck: FsckReport,
  options: { stateFile: string },
): LogCheckResult {
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

  const intact =
    fsck.non_contiguous === 0 && fsck.leaf_hash_mismatches === 0 && fsck.node_hash_mismatches === 0 && fsck.missing_nodes === 0;
  const signedHeads = [databaseHead(db, fsck), stateFileHead(db, options.stateFile, fsck, intact)].filter(
    (head): head is SignedHeadCheck => head !== null,
  );
  for (const head of signedHeads) {
    if (head.extended === false) findings.add("signed_head_mismatches", `${head.source} size ${head.size ?? "?"}`);
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
  const row = db.prepare("SELECT size, root FROM tlog_signed WHERE id = 1").get() as { size: unknown; root: unknown } | undefined;
  if (row === undefined) return null;
  const size = Number.isSafeInteger(row.size) && (row.size as number) >= 0 ? (row.size as number) : null;
  const root = Buffer.isBuffer(row.root) ? row.root.toString("hex") : null;
  if (size === null || root === null || root.length !== 64) return { source: "database", size, root, extended: false };
  // fsck compares the root of the leaf data at the signed size; null there means the leaves are not contiguous.
  return { source: "database", size, root, extended: fsck.signed_root_matches };
}

function stateFileHead(db: Database.Database, stateFile: string, fsck: FsckReport, intact: boolean): SignedHeadCheck | null {
  let text: string;
  try {
    text = readFileSync(stateFile, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw error;
  }
  let parsed: z.ZodSafeParseResult<z.infer<typeof StateFileSchema>> | null = null;
  try {
    parsed = StateFileSchema.safeParse(JSON.parse(text));
  } catch {
    // Not JSON: reported as a head the log does not extend, as the server refuses to sign then.
  }
  if (!parsed?.success) return { source: "state file", size: null, root: null, extended: false };
  const { size, root } = parsed.data;
  const head = { source: "state file" as const, size, root: root.toLowerCase() };
  if (size > fsck.tlog_size) return { ...head, extended: false };
  // Stored nodes are trusted for the root only once fsck has recomputed every one of them.
  if (!intact) return { ...head, extended: null };
  return { ...head, extended: new TlogStore(db).root(size).toString("hex") === head.root };
}
