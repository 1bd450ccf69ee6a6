/** A registry operator rewriting its log behind its clients' backs, for the tests that must catch it (monitor, inspector page). */
import { writeFileSync } from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { canonicalBytes } from "../../src/verify/jcs.js";
import { nodeId } from "../../src/tlog/schema.js";
import { TlogStore } from "../../src/tlog/store.js";

/** A beacon leaf the operator makes up, for `token`: the kind of entry a rewritten history holds. */
export function forgedBeaconLeaf(token: string): Buffer {
  return Buffer.from(
    canonicalBytes({
      event: "beacon",
      kind: "http_img",
      token_id: token,
      file_id: null,
      recipient_id: null,
      source_ip: "10.0.0.1",
      user_agent: "x",
      timestamp: "2026-01-01T00:00:00Z",
    }),
  );
}

/**
 * What a malicious operator does: drop the last leaves, append different
 * ones, and overwrite the registry's record of the largest head it signed so
 * that it happily signs the forked log.
 */
export function rewriteHistory(registry: { dbPath: string; dataDir: string }, keep: number, leaves: Buffer[]): { size: number; root: string } {
  const db = new Database(registry.dbPath);
  try {
    const result = db.transaction(() => {
      db.prepare("DELETE FROM tlog_leaves WHERE idx >= ?").run(keep);
      db.prepare("DELETE FROM tlog_nodes WHERE id >= ?").run(nodeId(0, keep));
      const store = new TlogStore(db);
      for (const leaf of leaves) store.append(leaf);
      const root = store.root();
      db.prepare("UPDATE tlog_signed SET size = ?, root = ? WHERE id = 1").run(store.size(), root);
      return { size: store.size(), root: root.toString("hex") };
    })();
    writeFileSync(path.join(registry.dataDir, "tlog-signed-head.json"), JSON.stringify({ size: result.size, root: result.root, signed_at: 1_800_000_000 }));
    return result;
  } finally {
    db.close();
  }
}
