/**
 * `oversight-registry restore`: puts a snapshot made by `backup` in place of a
 * data directory. Refused while a registry holds the directory's lock, when
 * the snapshot does not pass `--validate-db`, and when it is older than the
 * directory's current signed head (monitors would see the log shrink) unless
 * allowed. Never half-done: the snapshot is copied and validated in a new
 * directory beside the data directory, the data directory's other files
 * (operator token, DNS bridge journal…) are moved into it, and two renames
 * swap the directories; the old one stays beside it as `<dir>.before-restore-<time>`.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from "node:fs";
import { randomBytes } from "node:crypto";
import path from "node:path";
import { syncDirectory } from "../core/durable-file.js";
import { IDENTITY_FILE } from "../core/identity.js";
import { LOCK_FILE, lockDataDir } from "../data-dir-lock.js";
import { OPERATOR_TOKEN_FILE } from "../operator-token.js";
import { openDatabase } from "../registry/database.js";
import { largestSignedHead, SIGNED_HEAD_FILE, signedHeadFile, type SignedRecord } from "../tlog/signed-head-record.js";
import { BACKUP_MANIFEST, BackupManifestSchema, copyDurably, type BackupManifest } from "./backup.js";
import type { ProgressCallback } from "./progress.js";
import { validateDatabase, type ValidationReport } from "./validate.js";

export class RestoreError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "RestoreError";
  }
}

export interface RestoreOptions {
  from: string;
  dataDir: string;
  dbPath: string;
  allowOlder: boolean;
  onProgress?: ProgressCallback;
  now?: Date;
}

export interface RestoreResult {
  restored_from: string;
  data_dir: string;
  db: string;
  /** Where the data directory as it was before is kept; null when it held nothing. */
  previous_data_dir: string | null;
  tlog_size: number;
  signed_head: BackupManifest["signed_head"];
}

export async function restoreRegistry(options: RestoreOptions): Promise<RestoreResult> {
  const dataDir = path.resolve(options.dataDir);
  if (path.dirname(path.resolve(options.dbPath)) !== dataDir) {
    throw new RestoreError(`restore puts the database directly in the data directory, but --db ${options.dbPath} is not in ${dataDir}`);
  }
  const manifest = readManifest(options.from);
  const lock = lockDataDir(dataDir, "restore");
  const stage = `${dataDir}.restore-${randomBytes(4).toString("hex")}`;
  let swapped = false;
  try {
    refuseOlder(manifest, dataDir, options);
    mkdirSync(stage, { mode: 0o700 });
    const restoredDb = path.join(stage, path.basename(options.dbPath));
    copyDurably(path.join(options.from, manifest.database), restoredDb);
    // The data directory's own operator token, when it has one, is moved over the snapshot's below: the one in use stays.
    for (const file of [IDENTITY_FILE, SIGNED_HEAD_FILE, OPERATOR_TOKEN_FILE]) {
      if (existsSync(path.join(options.from, file))) copyDurably(path.join(options.from, file), path.join(stage, file));
    }
    // What is checked is the copy that goes in place, exactly as the server will find it.
    const report = await validateDatabase({ dbPath: restoredDb, dataDir: stage, ...(options.onProgress ? { onProgress: options.onProgress } : {}) });
    if (!report.ok) throw new RestoreError(`the snapshot in ${options.from} does not validate (${problems(report)}); nothing was changed`);

    const replaced = new Set([
      path.basename(options.dbPath),
      ...["-wal", "-shm", "-journal"].map((s) => path.basename(options.dbPath) + s),
      IDENTITY_FILE,
      SIGNED_HEAD_FILE,
      LOCK_FILE,
    ]);
    const kept = readdirSync(dataDir).filter((name) => !replaced.has(name));
    for (const name of kept) renameSync(path.join(dataDir, name), path.join(stage, name));
    const previous = `${dataDir}.before-restore-${stamp(options.now ?? new Date())}`;
    renameSync(dataDir, previous);
    renameSync(stage, dataDir);
    swapped = true;
    syncDirectory(path.dirname(dataDir));
    const heldNothing = readdirSync(previous).every((name) => name === LOCK_FILE);
    lock.release();
    if (heldNothing) rmSync(previous, { recursive: true, force: true });
    return {
      restored_from: path.resolve(options.from),
      data_dir: dataDir,
      db: path.join(dataDir, path.basename(options.dbPath)),
      previous_data_dir: heldNothing ? null : previous,
      tlog_size: manifest.tlog_size,
      signed_head: manifest.signed_head,
    };
  } finally {
    lock.release();
    if (!swapped) rmSync(stage, { recursive: true, force: true });
  }
}

function readManifest(from: string): BackupManifest {
  const file = path.join(from, BACKUP_MANIFEST);
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, "utf8"));
  } catch (error) {
    if (error instanceof SyntaxError) throw new RestoreError(`${file} is not JSON; is ${from} a snapshot made by oversight-registry backup?`);
    throw error;
  }
  const parsed = BackupManifestSchema.safeParse(json);
  if (!parsed.success) throw new RestoreError(`${file} is not a backup manifest of this registry; is ${from} a snapshot made by oversight-registry backup?`);
  return parsed.data;
}

/** The data directory's current signed head, compared with the snapshot's: a restore must not make the log shrink or fork. */
function refuseOlder(manifest: BackupManifest, dataDir: string, options: RestoreOptions): void {
  if (options.allowOlder || !existsSync(options.dbPath)) return;
  let current: SignedRecord | null;
  try {
    const db = openDatabase(options.dbPath, { readonly: true });
    try {
      current = largestSignedHead(db, signedHeadFile(dataDir));
    } finally {
      db.close();
    }
  } catch (error) {
    throw new RestoreError(`cannot read the current signed head of ${options.dbPath} (${(error as Error).message}); give --allow-older to restore anyway`, {
      cause: error,
    });
  }
  if (current === null) return;
  const snapshot = manifest.signed_head;
  const currentRoot = current.root.toString("hex");
  if (snapshot === null || snapshot.size < current.size) {
    throw new RestoreError(
      `the snapshot's signed head (size ${snapshot?.size ?? 0}) is older than the data directory's (size ${current.size}): ` +
        "monitors that saw the newer head would see the log shrink; give --allow-older to restore it anyway",
    );
  }
  if (snapshot.size === current.size && snapshot.root !== currentRoot) {
    throw new RestoreError(
      `the snapshot and the data directory both have a signed head of size ${current.size} with different roots: they are different logs; give --allow-older to restore it anyway`,
    );
  }
}

function problems(report: ValidationReport): string {
  if (report.aborted !== null) return `checks stopped: ${report.aborted}`;
  const named = Object.entries(report)
    .filter(([key, value]) => key !== "tlog_size" && typeof value === "number" && value > 0)
    .map(([key, value]) => `${key} ${String(value)}`);
  return named.length > 0 ? named.join(", ") : "see --validate-db";
}

const stamp = (now: Date): string =>
  now
    .toISOString()
    .replace(/\.\d{3}Z$/, "Z")
    .replace(/[-:]/g, "");
