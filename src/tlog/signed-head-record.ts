/**
 * The largest signed head, as it is kept on disk: the database's `tlog_signed`
 * row and the state file `<data dir>/tlog-signed-head.json`. The only module
 * that knows their names and formats; the head signer, validation and
 * migration all read and write them here, so a record the server refuses is
 * a record validation reports, in the same words.
 */
import type Database from "better-sqlite3";
import { readFileSync } from "node:fs";
import path from "node:path";
import { z } from "zod";
import { writeFileDurably } from "../core/durable-file.js";
import { toHex } from "../core/hex.js";
import { TreeSizeSchema } from "./heads.js";

export const SIGNED_HEAD_FILE = "tlog-signed-head.json";

/** `<data dir>/tlog-signed-head.json`. */
export const signedHeadFile = (dataDir: string): string => path.join(dataDir, SIGNED_HEAD_FILE);

export interface SignedRecord {
  size: number;
  root: Buffer;
  /** Unix seconds. */
  signedAt: number;
}

export type RecordSource = "database" | "state file";

/** A record that exists but cannot be trusted as written; the server refuses to sign until it is repaired. */
export class MalformedSignedHeadError extends Error {
  constructor(
    message: string,
    readonly source: RecordSource,
  ) {
    super(message);
    this.name = "MalformedSignedHeadError";
  }
}

/** Exactly what `writeStateFile` writes: anything else was not written by this registry. */
const StateFileSchema = z.strictObject({
  size: TreeSizeSchema,
  root: z.string().regex(/^[0-9a-f]{64}$/, "expected 64 lowercase hex characters"),
  signed_at: z.int().nonnegative(),
});

const RowSchema = z.object({
  size: TreeSizeSchema,
  root: z.instanceof(Buffer).refine((b) => b.length === 32, "expected 32 bytes"),
  signed_at: z.int(),
});

const describeIssues = (error: z.ZodError): string =>
  error.issues.map((issue) => (issue.path.length > 0 ? `${issue.path.join(".")}: ${issue.message}` : issue.message)).join("; ");

/** The `tlog_signed` row of one database, its statements prepared once. */
export class SignedHeadRow {
  private readonly select: Database.Statement<[], unknown>;
  private readonly selectSignedAt: Database.Statement<[], unknown>;
  private readonly upsert: Database.Statement<[number, Buffer, number]>;

  constructor(db: Database.Database) {
    this.select = db.prepare("SELECT size, root, signed_at FROM tlog_signed WHERE id = 1");
    this.selectSignedAt = db.prepare("SELECT signed_at FROM tlog_signed WHERE id = 1").pluck();
    this.upsert = db.prepare(
      `INSERT INTO tlog_signed (id, size, root, signed_at) VALUES (1, ?, ?, ?)
       ON CONFLICT(id) DO UPDATE SET size = excluded.size, root = excluded.root, signed_at = excluded.signed_at`,
    );
  }

  /** The record, null when there is none; throws MalformedSignedHeadError for a row that breaks the format. */
  read(): SignedRecord | null {
    const row = this.select.get();
    if (row === undefined) return null;
    const parsed = RowSchema.safeParse(row);
    if (!parsed.success) {
      throw new MalformedSignedHeadError(`the database's tlog_signed row is malformed (${describeIssues(parsed.error)})`, "database");
    }
    return { size: parsed.data.size, root: parsed.data.root, signedAt: parsed.data.signed_at };
  }

  /** When the newest head was signed (Unix seconds), null before the first or for a row without a usable time. */
  signedAt(): number | null {
    const value = this.selectSignedAt.get();
    return Number.isSafeInteger(value) ? (value as number) : null;
  }

  write(record: SignedRecord): void {
    this.upsert.run(record.size, record.root, record.signedAt);
  }
}

/** The state file's record, null when the file does not exist; throws MalformedSignedHeadError for one that breaks the format. */
export function readStateFile(file: string): SignedRecord | null {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw error;
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new MalformedSignedHeadError(`the state file ${file} is malformed (not JSON); repair or remove it`, "state file");
  }
  const parsed = StateFileSchema.safeParse(value);
  if (!parsed.success) {
    throw new MalformedSignedHeadError(`the state file ${file} is malformed (${describeIssues(parsed.error)}); repair or remove it`, "state file");
  }
  return { size: parsed.data.size, root: Buffer.from(parsed.data.root, "hex"), signedAt: parsed.data.signed_at };
}

/** Replaces the state file atomically (core/durable-file.ts). */
export function writeStateFile(file: string, record: SignedRecord): void {
  writeFileDurably(file, JSON.stringify({ size: record.size, root: toHex(record.root), signed_at: record.signedAt }) + "\n");
}

/** The larger of the database's record and the state file's: the head the server holds itself to. Throws MalformedSignedHeadError like both readers. */
export function largestSignedHead(db: Database.Database, stateFile: string): SignedRecord | null {
  const row = new SignedHeadRow(db).read();
  const file = readStateFile(stateFile);
  if (!row || !file) return row ?? file;
  return file.size > row.size ? file : row;
}
