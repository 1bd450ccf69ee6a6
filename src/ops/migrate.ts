/**
 * `--migrate-from`: imports another registry v1 implementation's data
 * directory (its SQLite file, `tlog/leaves.jsonl` and registry identity) into
 * an empty database of ours, in one transaction.
 *
 * Order: refuse a target that is the source or already holds data, and
 * decide which key the migrated log keeps (key-choice.ts); lock the data
 * directory; open the source read-only in one read transaction (a consistent
 * snapshot); in one write transaction import and check the log, copy the
 * rows, compare counts, record the key; write the identity; commit. Any
 * failure rolls back, puts back the identity file as it was and removes a
 * target file this run created. A dry run does all of it against an in-memory
 * database and rolls back, so it writes nothing at all (not even the lock).
 */
import Database from "better-sqlite3";
import { copyFileSync, existsSync, mkdtempSync, readFileSync, realpathSync, rmSync, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { z } from "zod";
import { createFileOnce } from "../core/durable-file.js";
import { identityPath, readIdentity, writeIdentity, type RegistryIdentity } from "../core/identity.js";
import { lockDataDir } from "../data-dir-lock.js";
import { openDatabase } from "../registry/database.js";
import { recordedKey, recordKey } from "../registry/key-record.js";
import { REGISTRY_TABLES, type RegistryTable } from "../registry/schema.js";
import { signedHeadFile } from "../tlog/signed-head-record.js";
import { TlogStore } from "../tlog/store.js";
import { chooseKey, type KeyChoice, type KeyWinner } from "./key-choice.js";
import { importLeaves } from "./migrate-leaves.js";
import { checkSourceSchema, copyRows, countRows } from "./migrate-rows.js";
import type { ProgressCallback } from "./progress.js";

export class MigrationError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "MigrationError";
  }
}

export interface MigrationOptions {
  /** Our database file (created when absent; must hold no data). */
  dbPath: string;
  /** Our data directory (the identity is copied here). */
  dataDir: string;
  /** The other implementation's SQLite file. */
  sourcePath: string;
  /** Folder holding `leaves.jsonl`; default: `tlog/` beside the source database. */
  tlogDir?: string;
  dryRun: boolean;
  /** Which key wins when the data dir already holds a key other than the source's that may have signed something. */
  keyWinner?: KeyWinner;
  onProgress?: ProgressCallback;
}

const Count = z.int().nonnegative();

export const MigrationReportSchema = z.object({
  source: z.string(),
  dry_run: z.boolean(),
  manifests: Count,
  beacons: Count,
  watermarks: Count,
  events: Count,
  corpus: Count,
  tlog_size: Count,
  tlog_root: z.string().regex(/^[0-9a-f]{64}$/),
  /** Whether the source's identity was (or, in a dry run, would be) copied into the data dir. */
  identity_copied: z.boolean(),
  /** The data dir's own key that the source's replaced (its file kept beside, see replaced_identity_file); null if none. */
  replaced_pub: z.string().nullable(),
  replaced_identity_file: z.string().nullable(),
  /** The key the migrated registry signs with; null when neither side has one (the server will create one). */
  registry_pub: z.string().nullable(),
  /** Things that do not stop the migration but that an operator should know. */
  warnings: z.array(z.string()),
});
export type MigrationReport = z.infer<typeof MigrationReportSchema>;

export const LEAVES_FILE = "leaves.jsonl";
/** `<data dir>/tlog-signed-head.json`, where the server records the largest head it signed. */
const TARGET_DATA_TABLES = [...REGISTRY_TABLES, "tlog_leaves", "tlog_nodes", "tlog_signed"] as const;

export async function runMigration(options: MigrationOptions): Promise<MigrationReport> {
  try {
    return await migrate(options);
  } catch (error) {
    if (error instanceof MigrationError) throw error;
    // Row, leaf and identity errors already name the table and rowid, the line, or the file.
    const message = error instanceof Error ? error.message : String(error);
    throw new MigrationError(`migration failed, nothing was written: ${message}`, { cause: error });
  } finally {
    options.onProgress?.({ phase: "done", done: 0, total: null });
  }
}

async function migrate(options: MigrationOptions): Promise<MigrationReport> {
  const source = resolveSource(options.sourcePath);
  const target = path.resolve(options.dbPath);
  refuseSameFile(source, target);
  const sourceDir = path.dirname(path.resolve(options.sourcePath));
  const leavesFile = path.join(options.tlogDir ? path.resolve(options.tlogDir) : path.join(sourceDir, "tlog"), LEAVES_FILE);
  const dataDir = path.resolve(options.dataDir);

  const sourceIdentity = readIdentity(sourceDir);
  const targetIdentity = readIdentity(dataDir);
  refuseSignedTarget(dataDir);
  const existed = existsSync(target);
  const targetKey = existed ? inspectTarget(target) : null;
  const choice = chooseKey({
    source: sourceIdentity,
    target: targetIdentity,
    targetDbKey: targetKey,
    winner: options.keyWinner,
    dataDir,
  });

  const lock = options.dryRun ? null : lockDataDir(dataDir, "migrate");
  try {
    // A registry may have signed in this data directory while the checks above ran.
    refuseSignedTarget(dataDir);
    return await migrateLocked(options, { source, target, leavesFile, dataDir, existed, choice });
  } finally {
    lock?.release();
  }
}

interface Plan {
  source: string;
  target: string;
  leavesFile: string;
  dataDir: string;
  existed: boolean;
  choice: KeyChoice;
}

async function migrateLocked(options: MigrationOptions, plan: Plan): Promise<MigrationReport> {
  const { source, target, leavesFile, dataDir, existed, choice } = plan;
  const { db: src, cleanup: cleanupSource } = openSource(source);
  try {
    src.exec("BEGIN");
    checkSourceSchema(src);
    const sourceCounts = Object.fromEntries(REGISTRY_TABLES.map((t) => [t, countRows(src, t)])) as Record<RegistryTable, number>;
    const hasRows = Object.values(sourceCounts).some((n) => n > 0);
    if (!existsSync(leavesFile) && hasRows) {
      throw new MigrationError(`the source log ${leavesFile} does not exist; give its folder with --migrate-tlog`);
    }

    const warnings: string[] = [...choice.warnings];
    const replacedFile = choice.replace ? replacedIdentityPath(dataDir, choice.replace) : null;

    const db = options.dryRun ? openDatabase(":memory:") : openDatabase(target);
    let identityWritten = false;
    let keptReplaced = false;
    let done = false;
    try {
      db.exec("BEGIN IMMEDIATE");
      if (!options.dryRun) refuseNonEmpty(db, target);
      const { store, copied } = await fillTarget(db, src, { leavesFile, sourceCounts, onProgress: options.onProgress });
      warnings.push(...registrationWarnings(db));
      if (choice.key && recordedKey(db)?.ed25519_pub !== choice.key.publicKeyHex) {
        recordKey(db, { pub: choice.key.publicKeyHex, previous: choice.replace?.publicKeyHex ?? null, reason: "migrated", at: nowSeconds() });
      }
      const report = MigrationReportSchema.parse({
        source,
        dry_run: options.dryRun,
        ...copied,
        tlog_size: store.size(),
        tlog_root: store.root().toString("hex"),
        identity_copied: choice.copy,
        replaced_pub: choice.replace?.publicKeyHex ?? null,
        replaced_identity_file: replacedFile,
        registry_pub: choice.key?.publicKeyHex ?? null,
        warnings,
      });
      if (options.dryRun) {
        db.exec("ROLLBACK");
        return report;
      }
      if (choice.replace) keptReplaced = keepReplaced(replacedFile!, choice.replace);
      if (choice.copy) {
        identityWritten = true;
        copyIdentity(choice.key!, dataDir);
      }
      db.exec("COMMIT");
      done = true;
      return report;
    } catch (error) {
      if (db.inTransaction) db.exec("ROLLBACK");
      if (identityWritten) restoreIdentity(dataDir, choice.replace);
      if (keptReplaced) rmSync(replacedFile!, { force: true });
      throw error;
    } finally {
      db.close();
      if (!existed && !options.dryRun && !done) removeDatabaseFiles(target);
    }
  } finally {
    if (src.inTransaction) src.exec("ROLLBACK");
    src.close();
    cleanupSource();
  }
}

function resolveSource(sourcePath: string): string {
  let real: string;
  try {
    real = realpathSync(sourcePath);
  } catch {
    throw new MigrationError(`the migration source ${sourcePath} does not exist`);
  }
  if (!statSync(real).isFile()) throw new MigrationError(`the migration source ${sourcePath} is not a file`);
  return real;
}

/** Compares real paths (through symlinks, also of a target not yet created) and, for existing files, the inode. */
function refuseSameFile(source: string, target: string): void {
  let real: string | null = null;
  try {
    real = realpathSync(target);
  } catch {
    try {
      real = path.join(realpathSync(path.dirname(target)), path.basename(target));
    } catch {
      // The target's folder does not exist yet, so it cannot hold the source.
    }
  }
  const same = real === source || (existsSync(target) && sameInode(source, target));
  if (same) throw new MigrationError(`the migration source ${source} is the target database; migrate into a new file`);
}

function sameInode(a: string, b: string): boolean {
  const sa = statSync(a);
  const sb = statSync(b);
  return sa.dev === sb.dev && sa.ino === sb.ino;
}

interface FillOptions {
  leavesFile: string;
  sourceCounts: Record<RegistryTable, number>;
  onProgress: ProgressCallback | undefined;
}

/** Imports the log, then the rows (inside the caller's transaction on `db`), and checks the row counts. */
async function fillTarget(
  db: Database.Database,
  src: Database.Database,
  { leavesFile, sourceCounts, onProgress }: FillOptions,
): Promise<{ store: TlogStore; copied: Record<RegistryTable, number> }> {
  const progress = onProgress ? { onProgress } : {};
  const store = new TlogStore(db);
  const registerIndexes = new Map<string, number>();
  if (existsSync(leavesFile)) {
    await importLeaves(leavesFile, store, {
      // The last register leaf of a file wins: re-registrations append another one.
      onLeaf: (index, data) => {
        const fileId = registerLeafFileId(data);
        if (fileId !== null) registerIndexes.set(fileId, index);
      },
      ...progress,
    });
  }
  const copied = copyRows(src, db, { registerIndexes, ...progress });
  for (const table of REGISTRY_TABLES) {
    const now = countRows(db, table);
    if (now !== sourceCounts[table]) {
      throw new MigrationError(`the ${table} table has ${now} rows after the copy but the source has ${sourceCounts[table]}`);
    }
  }
  return { store, copied };
}

/** A data dir whose log was already signed would make the migrated log look like a fork of it. */
function refuseSignedTarget(dataDir: string): void {
  const stateFile = signedHeadFile(dataDir);
  if (existsSync(stateFile)) {
    throw new MigrationError(
      `${stateFile} exists: this data directory belongs to a registry that has already signed its log; migrate into a fresh data directory`,
    );
  }
}

/**
 * Looks into an existing target before anything opens it for writing, and
 * returns the key it records as its own (null when none). Not a read-only
 * connection: on a WAL database that would leave -wal and -shm files behind,
 * where a read-write connection that writes nothing removes them.
 */
function inspectTarget(target: string): string | null {
  let db: Database.Database;
  try {
    db = new Database(target, { fileMustExist: true });
  } catch (error) {
    throw new MigrationError(`the target ${target} exists but cannot be opened as SQLite: ${(error as Error).message}`);
  }
  try {
    refuseNonEmpty(db, target);
    const hasRecord = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'registry_keys'").get() !== undefined;
    return hasRecord ? (recordedKey(db)?.ed25519_pub ?? null) : null;
  } finally {
    db.close();
  }
}

function refuseNonEmpty(db: Database.Database, target: string): void {
  if (!isEmpty(db)) {
    throw new MigrationError(`the target ${target} already holds data; migrate into a new or empty database`);
  }
}

function isEmpty(db: Database.Database): boolean {
  const tables = new Set(db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").pluck().all() as string[]);
  return TARGET_DATA_TABLES.every((table) => !tables.has(table) || db.prepare(`SELECT 1 FROM ${table} LIMIT 1`).get() === undefined);
}

/**
 * Read-only; a WAL-mode source in a directory we cannot write (a read-only
 * mount, another user's files) cannot get its shared-memory file, so then the
 * database and its WAL are copied to a temporary directory and read there.
 */
function openSource(source: string): { db: Database.Database; cleanup: () => void } {
  try {
    return { db: openSourceFile(source), cleanup: () => {} };
  } catch (direct) {
    const dir = mkdtempSync(path.join(os.tmpdir(), "oversight-migrate-source-"));
    const cleanup = () => rmSync(dir, { recursive: true, force: true });
    try {
      const copy = path.join(dir, path.basename(source));
      copyFileSync(source, copy);
      if (existsSync(`${source}-wal`)) copyFileSync(`${source}-wal`, `${copy}-wal`);
      return { db: openSourceFile(copy), cleanup };
    } catch {
      cleanup();
      throw new MigrationError(`cannot open the migration source ${source} read-only: ${(direct as Error).message}`);
    }
  }
}

function openSourceFile(file: string): Database.Database {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    db.prepare("SELECT count(*) FROM sqlite_master").get();
    return db;
  } catch (error) {
    db.close();
    throw error;
  }
}

/** The file_id of a register leaf, or null for any other leaf. */
function registerLeafFileId(data: Buffer): string | null {
  let leaf: unknown;
  try {
    leaf = JSON.parse(data.toString("utf8"));
  } catch {
    return null;
  }
  if (typeof leaf !== "object" || leaf === null) return null;
  const { event, file_id: fileId } = leaf as Record<string, unknown>;
  return event === "register" && typeof fileId === "string" ? fileId : null;
}

function registrationWarnings(db: Database.Database): string[] {
  const unlogged = db.prepare("SELECT count(*) FROM manifests WHERE tlog_index IS NULL").pluck().get() as number;
  if (unlogged === 0) return [];
  return [`${unlogged} manifest(s) have no register leaf in the log; their tlog_index is left NULL (--validate-db lists them)`];
}

function copyIdentity(identity: RegistryIdentity, dataDir: string): void {
  writeIdentity(dataDir, identity.seed, identity.createdAt);
  const written = readIdentity(dataDir);
  if (written?.publicKeyHex !== identity.publicKeyHex) {
    throw new MigrationError(`the identity copied to ${identityPath(dataDir)} does not read back as the source's key`);
  }
}

/** Where a replaced identity is kept: a key is never destroyed, it may be the only copy. */
function replacedIdentityPath(dataDir: string, identity: RegistryIdentity): string {
  return path.join(dataDir, `registry-identity.${identity.publicKeyHex.slice(0, 16)}.replaced.json`);
}

/** Returns whether this run created the file. */
function keepReplaced(file: string, identity: RegistryIdentity): boolean {
  const body = readFileSync(identityPath(path.dirname(file)), "utf8");
  if (createFileOnce(file, body)) return true;
  if (readFileSync(file, "utf8") !== body) {
    throw new MigrationError(`${file} exists and holds something else; move it away to replace ${identity.publicKeyHex}`);
  }
  return false;
}

/** After a failed run: the data directory's identity as it was before. */
function restoreIdentity(dataDir: string, replaced: RegistryIdentity | null): void {
  if (replaced) writeIdentity(dataDir, replaced.seed, replaced.createdAt);
  else rmSync(identityPath(dataDir), { force: true });
}

const nowSeconds = (): number => Math.floor(Date.now() / 1000);

function removeDatabaseFiles(target: string): void {
  for (const suffix of ["", "-wal", "-shm", "-journal"]) rmSync(`${target}${suffix}`, { force: true });
}
