/**
 * `oversight-registry backup`: a consistent snapshot of a registry that may
 * be serving. The database is copied with SQLite's online backup API in one
 * step, so the copy is one read transaction: every write committed before it
 * began is in it, and a writer in another process cannot make it start over.
 * The identity, the signed-head state file and the operator token file are
 * copied first, so the snapshot's log always reaches the head they record.
 *
 * The snapshot is a directory laid out like a data directory (so
 * `--validate-db` checks it as it is) plus `backup.json`; it is written
 * beside its destination and renamed into place only when complete.
 */
import { copyFileSync, closeSync, existsSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync } from "node:fs";
import { randomBytes } from "node:crypto";
import path from "node:path";
import Database from "better-sqlite3";
import { z } from "zod";
import { syncDirectory, writeFileDurably } from "../core/durable-file.js";
import { identityPath, IDENTITY_FILE, readIdentity } from "../core/identity.js";
import { OPERATOR_TOKEN_FILE } from "../operator-token.js";
import { openDatabase } from "../registry/database.js";
import { prepareLogSize } from "../tlog/log-size.js";
import { largestSignedHead, SIGNED_HEAD_FILE, signedHeadFile } from "../tlog/signed-head-record.js";
import type { ProgressCallback } from "./progress.js";

export const BACKUP_FORMAT = "oversight-registry-backup/1";
export const BACKUP_MANIFEST = "backup.json";
export const BACKUP_DATABASE = "oversight-registry.sqlite";

const Hex32 = z.string().regex(/^[0-9a-f]{64}$/);

export const BackupManifestSchema = z.object({
  format: z.literal(BACKUP_FORMAT),
  created_at: z.string(),
  source_db: z.string(),
  database: z.literal(BACKUP_DATABASE),
  tlog_size: z.int().nonnegative(),
  signed_head: z.object({ size: z.int().nonnegative(), root: Hex32 }).nullable(),
  ed25519_pub: Hex32.nullable(),
});
export type BackupManifest = z.infer<typeof BackupManifestSchema>;

export class BackupError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "BackupError";
  }
}

export interface BackupOptions {
  dataDir: string;
  dbPath: string;
  to: string;
  onProgress?: ProgressCallback;
  now?: Date;
}

export async function backupRegistry(options: BackupOptions): Promise<BackupManifest> {
  if (existsSync(options.to)) throw new BackupError(`${options.to} already exists; a backup never overwrites anything (choose a new --to)`);
  if (!existsSync(options.dbPath))
    throw new BackupError(`no registry database at ${options.dbPath}; give --data-dir / --db (or OVERSIGHT_DATA / OVERSIGHT_DB)`);
  const source = openDatabase(options.dbPath, { readonly: true });
  const stage = `${options.to}.partial-${randomBytes(4).toString("hex")}`;
  try {
    mkdirSync(stage, { recursive: true, mode: 0o700 });
    const identity = readIdentity(options.dataDir);
    if (identity) copyDurably(identityPath(options.dataDir), path.join(stage, IDENTITY_FILE));
    for (const file of [SIGNED_HEAD_FILE, OPERATOR_TOKEN_FILE]) {
      if (existsSync(path.join(options.dataDir, file))) copyDurably(path.join(options.dataDir, file), path.join(stage, file));
    }
    const snapshot = path.join(stage, BACKUP_DATABASE);
    await source.backup(snapshot, {
      progress: ({ totalPages, remainingPages }) => {
        options.onProgress?.({ phase: "database pages", done: totalPages - remainingPages, total: totalPages });
        // Everything left in this one step: a step that starts over after each write of the server might never end.
        return 0x7fffffff;
      },
    });
    const manifest = describeSnapshot(snapshot, stage, options, identity?.publicKeyHex ?? null);
    writeFileDurably(path.join(stage, BACKUP_MANIFEST), `${JSON.stringify(manifest, null, 2)}\n`);
    renameSync(stage, options.to);
    syncDirectory(path.dirname(path.resolve(options.to)));
    return manifest;
  } catch (error) {
    rmSync(stage, { recursive: true, force: true });
    throw error;
  } finally {
    source.close();
    options.onProgress?.({ phase: "done", done: 0, total: null });
  }
}

/** Makes the copy one self-contained file (no -wal beside it) and reads what restore compares. */
function describeSnapshot(snapshot: string, stage: string, options: BackupOptions, publicKeyHex: string | null): BackupManifest {
  const db = new Database(snapshot);
  try {
    db.pragma("journal_mode = DELETE");
    const head = largestSignedHead(db, signedHeadFile(stage));
    return {
      format: BACKUP_FORMAT,
      created_at: (options.now ?? new Date()).toISOString().replace(/\.\d{3}Z$/, "Z"),
      source_db: options.dbPath,
      database: BACKUP_DATABASE,
      tlog_size: prepareLogSize(db)(),
      signed_head: head && { size: head.size, root: head.root.toString("hex") },
      ed25519_pub: publicKeyHex,
    };
  } finally {
    db.close();
  }
}

/** A copy that is on disk when this returns, private like the data directory's files. */
export function copyDurably(from: string, to: string): void {
  copyFileSync(from, to);
  const fd = openSync(to, "r+");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
