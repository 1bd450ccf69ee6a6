/**
 * One registry process per data directory. Two writers on one database would
 * both append leaves at the same index; two signers could sign two different
 * heads of one size.
 *
 * The lock is an OS file lock, taken through SQLite on `<data dir>/registry.lock`
 * (a tiny SQLite file): a connection holding a write transaction keeps the
 * file's RESERVED lock (POSIX fcntl, LockFileEx on Windows) until it ends, and
 * the kernel drops it when the process dies however it dies, so a crashed
 * registry never blocks the next start. The file also records the holder (pid,
 * host, purpose, since), so a refused starter can name it and the next holder
 * can tell that its predecessor never released the lock.
 *
 * The file is never deleted: removing it while another process has it open
 * would let two processes lock two different files of the same name.
 */
import Database from "better-sqlite3";
import { mkdirSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { z } from "zod";
import { createPrivately } from "./registry/database.js";

export const LOCK_FILE = "registry.lock";

export type LockPurpose = "serve" | "migrate" | "restore";

const HolderSchema = z.object({
  pid: z.int(),
  host: z.string(),
  purpose: z.string(),
  since: z.string(),
  released: z.union([z.literal(0), z.literal(1)]),
});
export type LockHolder = z.infer<typeof HolderSchema>;

export class DataDirLockedError extends Error {
  readonly holder: LockHolder | null;

  constructor(file: string, holder: LockHolder | null) {
    const who = holder ? ` by process ${holder.pid} on ${holder.host} (${holder.purpose}, since ${holder.since})` : "";
    super(
      `the data directory is in use: ${file} is locked${who}; one registry process per data directory ` +
        "(stop the other one first; --validate-db may run alongside)",
    );
    this.name = "DataDirLockedError";
    this.holder = holder;
  }
}

export interface DataDirLock {
  readonly file: string;
  /** The previous holder when it ended without releasing the lock (a crash or a kill); null after a clean stop. */
  readonly takenOver: LockHolder | null;
  /** Idempotent. */
  release(): void;
}

const HOLDER_SQL = `CREATE TABLE IF NOT EXISTS holder (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    pid INTEGER NOT NULL,
    host TEXT NOT NULL,
    purpose TEXT NOT NULL,
    since TEXT NOT NULL,
    released INTEGER NOT NULL
)`;

/** Takes the data directory's lock (creating the directory, 0700) or throws DataDirLockedError at once. */
export function lockDataDir(dataDir: string, purpose: LockPurpose): DataDirLock {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const file = path.join(path.resolve(dataDir), LOCK_FILE);
  // Private like every file of the data directory (it names the holder's host and pid).
  createPrivately(file);
  // timeout 0: a held lock is an answer, not something to wait for.
  const db = new Database(file, { timeout: 0 });
  try {
    createHolderTable(db, file);
    const previous = claim(db, file);
    db.prepare("INSERT OR REPLACE INTO holder (id, pid, host, purpose, since, released) VALUES (1, ?, ?, ?, ?, 0)").run(
      process.pid,
      os.hostname(),
      purpose,
      new Date().toISOString().replace(/\.\d{3}Z$/, "Z"),
    );
    // Publish the holder, then hold the lock again. Another starter slipping in
    // between wins and this one is refused: never both.
    db.exec("COMMIT");
    claim(db, file);
    return { file, takenOver: previous?.released === 0 ? previous : null, release: once(() => release(db)) };
  } catch (error) {
    if (db.inTransaction) db.exec("ROLLBACK");
    db.close();
    throw error;
  }
}

function createHolderTable(db: Database.Database, file: string): void {
  try {
    db.exec(HOLDER_SQL);
  } catch (error) {
    // Only a first starter creating the table at this very moment holds the lock here.
    if (isBusy(error)) throw new DataDirLockedError(file, null);
    throw error;
  }
}

/** BEGIN IMMEDIATE takes the file's write lock or fails with SQLITE_BUSY; returns the recorded holder. */
function claim(db: Database.Database, file: string): LockHolder | null {
  try {
    db.exec("BEGIN IMMEDIATE");
  } catch (error) {
    if (!isBusy(error)) throw error;
    throw new DataDirLockedError(file, readHolder(db));
  }
  return readHolder(db);
}

function readHolder(db: Database.Database): LockHolder | null {
  try {
    const parsed = HolderSchema.safeParse(db.prepare("SELECT pid, host, purpose, since, released FROM holder WHERE id = 1").get());
    return parsed.success ? parsed.data : null;
  } catch (error) {
    // The holder is committing its record this very moment.
    if (isBusy(error)) return null;
    throw error;
  }
}

function release(db: Database.Database): void {
  try {
    // A starter reading the holder row holds a shared lock for a moment; wait that out.
    db.pragma("busy_timeout = 2000");
    db.prepare("UPDATE holder SET released = 1 WHERE id = 1").run();
    db.exec("COMMIT");
  } catch {
    // Closing ends the transaction and drops the lock anyway; the next holder then reports a takeover.
  } finally {
    db.close();
  }
}

const isBusy = (error: unknown): boolean => (error as { code?: unknown }).code === "SQLITE_BUSY";

function once(fn: () => void): () => void {
  let done = false;
  return () => {
    if (done) return;
    done = true;
    fn();
  };
}
