/**
 * `--validate-db`: an offline check of a registry database, opened read-only
 * in one read transaction (a consistent snapshot), never modified.
 *
 * The report has the other registry v1 implementations' fields (same names,
 * same meaning) and ours: the whole log rehashed, signed heads, register
 * leaves, and the rows against the signed manifests. Every field is a count of
 * problems; `examples` names the first few offenders of each non-zero one;
 * `ok` is true when every count is zero. Cost: O(rows + leaves).
 */
import type Database from "better-sqlite3";
import path from "node:path";
import { z } from "zod";
import { openDatabase } from "../registry/database.js";
import { MIGRATIONS, REGISTRY_TABLES } from "../registry/schema.js";
import { SIGNED_HEAD_FILE } from "../registry/registry.js";
import { Findings } from "./validate-findings.js";
import { checkIdentity, IDENTITY_FIELDS } from "./validate-identity.js";
import { checkLogTables, LOG_FIELDS, rehashLog, SignedHeadCheckSchema } from "./validate-log.js";
import { checkRows, ROW_FIELDS } from "./validate-rows.js";
import type { ProgressCallback } from "./progress.js";

export class ValidationError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "ValidationError";
  }
}

export interface ValidationOptions {
  dbPath: string;
  /** Where the server keeps `tlog-signed-head.json`. */
  dataDir: string;
  onProgress?: ProgressCallback;
}

const Count = z.int().nonnegative();
const problemCounts = Object.fromEntries([...ROW_FIELDS, ...LOG_FIELDS, ...IDENTITY_FIELDS].map((field) => [field, Count])) as Record<
  (typeof ROW_FIELDS)[number] | (typeof LOG_FIELDS)[number] | (typeof IDENTITY_FIELDS)[number],
  typeof Count
>;

export const ValidationReportSchema = z.object({
  ok: z.boolean(),
  counts: z.object(Object.fromEntries(REGISTRY_TABLES.map((table) => [table, Count])) as Record<(typeof REGISTRY_TABLES)[number], typeof Count>),
  tlog_size: Count,
  /** Root of the leaf data, hex; null when the leaves are not numbered without gaps. */
  tlog_root: z.string().nullable(),
  ...problemCounts,
  signed_heads: z.array(SignedHeadCheckSchema),
  examples: z.record(z.string(), z.array(z.union([z.string(), z.number()]))),
});
export type ValidationReport = z.infer<typeof ValidationReportSchema>;

export async function validateDatabase(options: ValidationOptions): Promise<ValidationReport> {
  let db: Database.Database;
  try {
    db = openDatabase(options.dbPath, { readonly: true });
  } catch (error) {
    throw new ValidationError(`cannot open ${options.dbPath} read-only: ${(error as Error).message}`, { cause: error });
  }
  try {
    const version = db.pragma("user_version", { simple: true }) as number;
    if (version < MIGRATIONS.length) {
      throw new ValidationError(
        `${options.dbPath} has schema version ${version}, not ${MIGRATIONS.length}: it is not (yet) a database of this registry; ` +
          "migrate another implementation's database with --migrate-from first",
      );
    }
    db.exec("BEGIN");
    return await check(db, options);
  } finally {
    if (db.inTransaction) db.exec("ROLLBACK");
    db.close();
    options.onProgress?.({ phase: "done", done: 0, total: null });
  }
}

async function check(db: Database.Database, options: ValidationOptions): Promise<ValidationReport> {
  const findings = new Findings();
  const counts = Object.fromEntries(
    REGISTRY_TABLES.map((table) => [table, db.prepare(`SELECT count(*) FROM ${table}`).pluck().get() as number]),
  );
  // The log's size as fsck counts it (one past the largest index), so both halves judge the same log.
  const maxIndex = db.prepare("SELECT max(idx) FROM tlog_leaves").pluck().get() as number | null;
  const tlogSize = maxIndex === null || maxIndex < 0 ? 0 : maxIndex + 1;
  const rehash = rehashLog(db, options.dbPath, options.onProgress);
  checkRows(db, findings, {
    tlogSize,
    ...(options.onProgress ? { onProgress: options.onProgress } : {}),
  });
  const stateFile = path.join(options.dataDir, SIGNED_HEAD_FILE);
  const log = checkLogTables(db, findings, await rehash, { stateFile });
  checkIdentity(db, findings, { dataDir: options.dataDir, signedHeadFile: stateFile });
  return ValidationReportSchema.parse({
    ok: findings.total() === 0,
    counts,
    tlog_size: log.fsck.tlog_size,
    tlog_root: log.fsck.root,
    ...findings.countsObject(),
    signed_heads: log.signedHeads,
    examples: findings.examplesObject(),
  });
}
