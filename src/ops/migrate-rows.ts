/**
 * Copies the five registry v1 tables from a source database into ours. Every
 * source row is parsed with zod first; the first bad row stops the copy,
 * naming its table and rowid. Event ids, event tlog indexes and corpus
 * metadata are copied as they are; manifests get the index of their register
 * leaf in the imported log.
 */
import type Database from "better-sqlite3";
import { z } from "zod";
import { BACKFILL_CLAIMS_SQL, REGISTRY_TABLES, type RegistryTable } from "../registry/schema.js";
import type { ProgressCallback } from "./progress.js";

export class RowCopyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "RowCopyError";
  }
}

const isJsonObject = (text: string): boolean => {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === "object" && value !== null && !Array.isArray(value);
  } catch {
    return false;
  }
};

const Key = z.string().min(1);
const Unix = z.int();
const NullableText = z.string().nullable();

const ROW_SCHEMAS = {
  manifests: z.object({
    file_id: Key,
    recipient_id: z.string(),
    issuer_id: z.string(),
    issuer_ed25519_pub: z.string(),
    manifest_json: z.string().refine(isJsonObject, "must be a JSON object"),
    registered_at: Unix,
  }),
  beacons: z.object({
    token_id: Key,
    file_id: Key,
    recipient_id: z.string(),
    issuer_id: z.string(),
    kind: z.string(),
    registered_at: Unix,
  }),
  watermarks: z.object({
    mark_id: Key,
    layer: Key,
    file_id: Key,
    recipient_id: z.string(),
    issuer_id: z.string(),
    registered_at: Unix,
  }),
  events: z.object({
    id: z.int().positive(),
    token_id: z.string(),
    file_id: NullableText,
    recipient_id: NullableText,
    issuer_id: NullableText,
    kind: z.string(),
    source_ip: NullableText,
    user_agent: NullableText,
    extra: NullableText,
    timestamp: Unix,
    qualified_timestamp: NullableText,
    tlog_index: z.int().nullable(),
  }),
  corpus: z.object({
    file_id: Key,
    hash_kind: Key,
    hash_value: Key,
    metadata: NullableText,
    registered_at: Unix,
  }),
} as const satisfies Record<RegistryTable, z.ZodObject>;

const columnsOf = (table: RegistryTable): string[] => Object.keys(ROW_SCHEMAS[table].shape);

/** Throws unless the source has every table and column we copy (extra ones are ignored). */
export function checkSourceSchema(source: Database.Database): void {
  for (const table of REGISTRY_TABLES) {
    const present = new Set((source.prepare(`SELECT name FROM pragma_table_info(?)`).pluck().all(table) as string[]).map((c) => c.toLowerCase()));
    if (present.size === 0) throw new RowCopyError(`the source database has no table ${table}; is it a registry v1 database?`);
    const missing = columnsOf(table).filter((column) => !present.has(column));
    if (missing.length > 0) throw new RowCopyError(`the source table ${table} lacks column(s) ${missing.join(", ")}`);
  }
}

export function countRows(db: Database.Database, table: RegistryTable): number {
  return db.prepare(`SELECT count(*) FROM ${table}`).pluck().get() as number;
}

export interface CopyOptions {
  /** file_id → index of its last register leaf. */
  registerIndexes: ReadonlyMap<string, number>;
  onProgress?: ProgressCallback;
}

const PROGRESS_EVERY = 5_000;

/** Copies every table (inside the caller's transaction on `target`); returns the rows copied per table. */
export function copyRows(source: Database.Database, target: Database.Database, options: CopyOptions): Record<RegistryTable, number> {
  const copied = {} as Record<RegistryTable, number>;
  for (const table of REGISTRY_TABLES) {
    const columns = columnsOf(table);
    const targetColumns = table === "manifests" ? [...columns, "tlog_index"] : columns;
    const insert = target.prepare(`INSERT INTO ${table} (${targetColumns.join(", ")}) VALUES (${targetColumns.map(() => "?").join(", ")})`);
    const total = countRows(source, table);
    const rows = source.prepare(`SELECT rowid AS source_rowid, ${columns.join(", ")} FROM ${table} ORDER BY rowid`).iterate();
    let count = 0;
    for (const raw of rows as Iterable<Record<string, unknown>>) {
      const row = parseRow(table, raw);
      const values = columns.map((column) => row[column]);
      if (table === "manifests") values.push(options.registerIndexes.get(row["file_id"] as string) ?? null);
      try {
        insert.run(values);
      } catch (error) {
        throw new RowCopyError(`source table ${table}, rowid ${String(raw["source_rowid"])}: ${(error as Error).message}`);
      }
      count++;
      if (count % PROGRESS_EVERY === 0) options.onProgress?.({ phase: table, done: count, total });
    }
    options.onProgress?.({ phase: table, done: count, total });
    copied[table] = count;
  }
  keepEventSequence(source, target);
  target.exec(BACKFILL_CLAIMS_SQL);
  return copied;
}

function parseRow(table: RegistryTable, raw: Record<string, unknown>): Record<string, unknown> {
  const parsed = ROW_SCHEMAS[table].safeParse(raw);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.slice(0, 3).map((issue) => `${issue.path.map(String).join(".")} ${issue.message}`);
  throw new RowCopyError(`source table ${table}, rowid ${String(raw["source_rowid"])}: ${problems.join("; ")}`);
}

/** Event ids are never reused: carry over the source's AUTOINCREMENT high-water mark when it is above the copied ids. */
function keepEventSequence(source: Database.Database, target: Database.Database): void {
  const hasSequence = source.prepare("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_sequence'").get() !== undefined;
  if (!hasSequence) return;
  const seq = source.prepare("SELECT seq FROM sqlite_sequence WHERE name = 'events'").pluck().get();
  if (typeof seq !== "number" || !Number.isSafeInteger(seq)) return;
  const current = target.prepare("SELECT seq FROM sqlite_sequence WHERE name = 'events'").pluck().get();
  if (current === undefined) target.prepare("INSERT INTO sqlite_sequence (name, seq) VALUES ('events', ?)").run(seq);
  else if (typeof current === "number" && seq > current) {
    target.prepare("UPDATE sqlite_sequence SET seq = ? WHERE name = 'events'").run(seq);
  }
}
