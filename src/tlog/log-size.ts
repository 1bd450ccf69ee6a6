/**
 * The log's size as stored: one past the largest leaf index in `tlog_leaves`
 * (0 for an empty log). The store, fsck and validation all count it here, so
 * they judge the same log; gaps below that index are fsck's to report.
 */
import type Database from "better-sqlite3";

/** Prepares the query once; the returned function reads the size in O(log n). */
export function prepareLogSize(db: Database.Database): () => number {
  const maxIndex = db.prepare("SELECT max(idx) FROM tlog_leaves").pluck();
  return () => {
    const max = maxIndex.get() as number | bigint | null;
    return max === null || max < 0 ? 0 : Number(max) + 1;
  };
}
