/**
 * Opens the registry's SQLite file: pragmas for a durable WAL log, then the
 * numbered schema migrations. Start-up cost does not depend on the log size.
 */
import Database from "better-sqlite3";
import { closeSync, mkdirSync, openSync } from "node:fs";
import path from "node:path";
import { MIGRATIONS } from "./schema.js";

export type Synchronous = "FULL" | "NORMAL";

export interface OpenOptions {
  /** FULL (default): an acknowledged write survives power loss. */
  synchronous?: Synchronous;
  readonly?: boolean;
  /** The schema to bring the file to; default the registry's. The DNS bridge's journal passes its own. */
  migrations?: readonly string[];
  /** The page size of a new file (default PAGE_SIZE); an existing file keeps its own. */
  pageSize?: number;
}

export class SchemaVersionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SchemaVersionError";
  }
}

/**
 * Page size of a new database. A commit writes every page it touched to the
 * WAL whole (a beacon hit touches about seven: its row, its indexes, the
 * leaf, a node), so at low load the page size is most of what an event costs
 * on disk (bench:http beacon_serial: 16 KiB pages 115 KiB per event).
 */
export const PAGE_SIZE = 4096;

/**
 * What the WAL is cut back to when a checkpoint lets SQLite start it over:
 * a burst can grow it far past the ~1,000 pages an automatic checkpoint
 * allows, and without a limit it never shrinks. Larger than the usual
 * ~4 MiB, so in steady running it is never cut (cutting and regrowing makes
 * every commit's fsync also record the file's new size).
 */
export const WAL_SIZE_LIMIT = 8 * 1024 * 1024;

export function openDatabase(file: string, options: OpenOptions = {}): Database.Database {
  if (!options.readonly && file !== ":memory:") {
    mkdirSync(path.dirname(path.resolve(file)), { recursive: true, mode: 0o700 });
    createPrivately(file);
  }
  const db = new Database(file, { readonly: options.readonly ?? false, fileMustExist: options.readonly ?? false });
  try {
    db.pragma("busy_timeout = 5000");
    if (!options.readonly) {
      // Takes effect only on a new file, and only before WAL is on: an existing file keeps its page size.
      db.pragma(`page_size = ${options.pageSize ?? PAGE_SIZE}`);
      db.pragma("journal_mode = WAL");
      db.pragma(`journal_size_limit = ${WAL_SIZE_LIMIT}`);
      db.pragma(`synchronous = ${options.synchronous ?? "FULL"}`);
    }
    // 8 MiB of SQLite page cache: proofs and ranges read all over a large log
    // and filled 32 MiB per connection (RSS +28 MiB at 300k leaves under
    // proofs), while the OS page cache holds the same pages anyway.
    db.pragma("cache_size = -8000");
    db.pragma("foreign_keys = OFF");
    const migrations = options.migrations ?? MIGRATIONS;
    if (!options.readonly) migrate(db, migrations);
    else checkVersion(db, migrations);
    return db;
  } catch (error) {
    db.close();
    throw error;
  }
}

/**
 * Creates a missing database file 0600 before SQLite opens it: it holds
 * readers' IP addresses and user agents. SQLite creates -wal and -shm with the
 * database file's mode, so they are private too. An existing file keeps its mode.
 */
export function createPrivately(file: string): void {
  try {
    closeSync(openSync(file, "wx", 0o600));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
  }
}

function checkVersion(db: Database.Database, migrations: readonly string[]): number {
  const version = db.pragma("user_version", { simple: true }) as number;
  if (version > migrations.length) {
    throw new SchemaVersionError(`database schema version ${version} is newer than this registry understands (${migrations.length}); upgrade the registry`);
  }
  return version;
}

function migrate(db: Database.Database, migrations: readonly string[]): void {
  const version = checkVersion(db, migrations);
  for (let next = version; next < migrations.length; next++) {
    db.transaction(() => {
      db.exec(migrations[next]!);
      db.pragma(`user_version = ${next + 1}`);
    }).immediate();
  }
}
