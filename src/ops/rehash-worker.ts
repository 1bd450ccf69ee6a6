/**
 * Runs the log rehash (tlog/fsck.ts) on its own read-only connection in a
 * worker thread, so `--validate-db` checks the rows on the main thread at the
 * same time. Posts `{progress}` messages, then `{report}` or `{error}`.
 */
import Database from "better-sqlite3";
import { parentPort, workerData } from "node:worker_threads";
import { checkLog } from "../tlog/fsck.js";

const { dbPath } = workerData as { dbPath: string };
const db = new Database(dbPath, { readonly: true, fileMustExist: true });
try {
  db.exec("BEGIN");
  const report = checkLog(db, { onProgress: (done, total) => parentPort!.postMessage({ progress: { done, total } }) });
  parentPort!.postMessage({ report });
} catch (error) {
  parentPort!.postMessage({ error: error instanceof Error ? error.message : String(error) });
} finally {
  db.close();
}
