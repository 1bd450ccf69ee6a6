/**
 * Recognises another registry implementation's data directory before this
 * registry writes anything into it. Serving it directly would add our tables
 * beside its own, fail half-way, and leave our files in a directory another
 * program owns; the way in is `--migrate-from`.
 *
 * The database is judged from its 100-byte header, read as plain bytes:
 * opening a WAL database with SQLite, even read-only, creates its `-wal` and
 * `-shm` files. Only when a `-wal` file exists (its newest pages may not be in
 * the main file yet) is it opened read-only, which then creates nothing new.
 */
import Database from "better-sqlite3";
import { closeSync, existsSync, openSync, readSync, statSync } from "node:fs";
import path from "node:path";

/** The log file of the other v1 implementations; this registry keeps its log in SQLite. */
export const FOREIGN_LOG = path.join("tlog", "leaves.jsonl");

const SQLITE_MAGIC = "SQLite format 3\0";

export class ForeignDataError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ForeignDataError";
  }
}

/** Throws ForeignDataError when the data directory or the database belongs to another implementation. */
export function refuseForeignData(dataDir: string, dbPath: string): void {
  const reasons: string[] = [];
  const foreignLog = path.join(dataDir, FOREIGN_LOG);
  if (existsSync(foreignLog)) reasons.push(`${foreignLog} is another implementation's log`);
  if (isForeignDatabase(dbPath)) reasons.push(`${dbPath} is a SQLite database without this registry's schema version`);
  if (reasons.length === 0) return;
  throw new ForeignDataError(
    `refusing to serve another registry implementation's data, nothing was written: ${reasons.join("; ")}. ` +
      `Import it into a new data directory instead: --db NEW_DIR/oversight-registry.sqlite --data-dir NEW_DIR --migrate-from ${dbPath} ` +
      "(docs/DEPLOYMENT.md, Migration)",
  );
}

/** A database with tables but user_version 0: ours always sets the version in the transaction that creates its tables. */
export function isForeignDatabase(dbPath: string): boolean {
  const header = readHeader(dbPath);
  if (header === null) return false;
  if (existsSync(`${dbPath}-wal`)) return foreignBySqlite(dbPath);
  const schemaCookie = header.readUInt32BE(40);
  const userVersion = header.readUInt32BE(60);
  return userVersion === 0 && schemaCookie !== 0;
}

/** The header, or null when the file is absent, empty or not SQLite (SQLite itself reports the last). */
function readHeader(dbPath: string): Buffer | null {
  let fd: number;
  try {
    if (!statSync(dbPath).isFile()) return null;
    fd = openSync(dbPath, "r");
  } catch {
    return null;
  }
  try {
    const header = Buffer.alloc(100);
    const read = readSync(fd, header, 0, 100, 0);
    return read === 100 && header.subarray(0, 16).toString("latin1") === SQLITE_MAGIC ? header : null;
  } finally {
    closeSync(fd);
  }
}

function foreignBySqlite(dbPath: string): boolean {
  const db = new Database(dbPath, { readonly: true, fileMustExist: true });
  try {
    const version = db.pragma("user_version", { simple: true }) as number;
    return version === 0 && db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' LIMIT 1").get() !== undefined;
  } finally {
    db.close();
  }
}
