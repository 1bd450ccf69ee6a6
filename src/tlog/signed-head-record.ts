/**
 * The largest signed head, as it is kept on disk: the database's `tlog_signed`
 * row and the state file `<data dir>/tlog-signed-head.json`. The only module
 * that knows their names and formats; the head signer, validation and
 * migration all read and write them here, so a record the server refuses is
 * a record validation reports, in the same words.
 */
import type Database from "better-sqlite3";
import { createHash } from "node:crypto";
import { closeSync, constants, openSync, readFileSync, write } from "node:fs";
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

/** Exactly the record `writeStateFile` writes: anything else was not written by this registry. */
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

/**
 * The state file holds two slots of SLOT_BYTES, each one record's JSON, a
 * space, the SHA-256 of that JSON in hex, padded with spaces to a newline.
 * The server overwrites the older slot in place (pwrite with O_DSYNC, no
 * rename and no directory fsync), so a write torn by a crash leaves the
 * other slot whole; the file never grows, so a full disk cannot stop it.
 * A file of one bare JSON object is the earlier format and is still read.
 */
const SLOT_BYTES = 192;
const SLOTS = 2;

/** The state file's record, null when the file does not exist; throws MalformedSignedHeadError for one that breaks the format. */
export function readStateFile(file: string): SignedRecord | null {
  return readStateSlots(file)?.largest ?? null;
}

/** Both slots of the state file (a legacy file: one record in slot 0), null when it does not exist. */
export function readStateSlots(file: string): StateSlots | null {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw error;
  }
  if (bytes.length !== SLOT_BYTES * SLOTS) {
    const legacy = parseRecord(file, bytes.toString("utf8"));
    return { slots: [legacy, null], largest: legacy, legacy: true };
  }
  const slots = [0, 1].map((i) => parseSlot(bytes.subarray(i * SLOT_BYTES, (i + 1) * SLOT_BYTES)));
  const whole = slots.filter((slot): slot is string => slot !== null);
  // A torn slot is what a crash mid-write leaves; the other one is then the record.
  if (whole.length === 0)
    throw new MalformedSignedHeadError(`the state file ${file} is malformed (no slot passes its checksum); repair or remove it`, "state file");
  const records = slots.map((slot) => (slot === null ? null : parseRecord(file, slot)));
  const largest = records.reduce<SignedRecord | null>((a, b) => (!a || (b && b.size > a.size) ? b : a), null);
  return { slots: records, largest, legacy: false };
}

export interface StateSlots {
  /** Each slot's record, null for a slot that fails its checksum. */
  slots: (SignedRecord | null)[];
  largest: SignedRecord | null;
  /** The file is in the earlier one-object format. */
  legacy: boolean;
}

function parseSlot(slot: Buffer): string | null {
  const text = slot.toString("utf8");
  const match = /^(\{[^\n]*\}) ([0-9a-f]{64}) *\n$/.exec(text);
  if (!match || createHash("sha256").update(match[1]!).digest("hex") !== match[2]) return null;
  return match[1]!;
}

function parseRecord(file: string, text: string): SignedRecord {
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

function encodeSlot(record: SignedRecord): Buffer {
  const json = JSON.stringify({ size: record.size, root: toHex(record.root), signed_at: record.signedAt });
  const line = `${json} ${createHash("sha256").update(json).digest("hex")}`;
  return Buffer.from(`${line.padEnd(SLOT_BYTES - 1, " ")}\n`);
}

/** Replaces the state file atomically (core/durable-file.ts), `record` in both slots. */
export function writeStateFile(file: string, record: SignedRecord): void {
  const slot = encodeSlot(record).toString("utf8");
  writeFileDurably(file, slot.repeat(SLOTS));
}

/** Where the server writes each head it publishes: a StateFileWriter (tests wrap one to hold or fail a write). */
export interface StateFileSink {
  /** Resolves once `record` is on disk. */
  write(record: SignedRecord): Promise<void>;
  close(): void;
}

/**
 * The server's handle on its state file: each record goes into the slot that
 * does not hold the newest one, in place. A missing, earlier-format or torn
 * file is rewritten whole instead (writeStateFile), once.
 */
export class StateFileWriter implements StateFileSink {
  private fd: number | null = null;
  /** The slot the next record goes to. */
  private next = 0;

  constructor(private readonly file: string) {}

  /** Writes `record` into the older slot and makes it durable; resolves once it is on disk. */
  async write(record: SignedRecord): Promise<void> {
    const fd = this.fd ?? this.open(record);
    if (fd === null) return;
    const slot = this.next;
    const bytes = encodeSlot(record);
    // The file is open with O_DSYNC: the write returns once it is on disk, one trip to the libuv pool instead of two.
    await new Promise<void>((resolve, reject) => write(fd, bytes, 0, bytes.length, slot * SLOT_BYTES, (error) => (error ? reject(error) : resolve())));
    this.next = 1 - slot;
  }

  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }

  /** Opens the file for in-place writes; null when making it whole already wrote `record`. */
  private open(record: SignedRecord): number | null {
    const read = readStateSlots(this.file);
    const [a, b] = read?.slots ?? [null, null];
    const whole = read && !read.legacy && a && b;
    if (!whole) writeStateFile(this.file, record);
    this.next = whole && a.size > b.size ? 1 : 0;
    this.fd = openSync(this.file, constants.O_RDWR | constants.O_DSYNC);
    return whole ? this.fd : null;
  }
}

/** The larger of the database's record and the state file's: the head the server holds itself to. Throws MalformedSignedHeadError like both readers. */
export function largestSignedHead(db: Database.Database, stateFile: string): SignedRecord | null {
  const row = new SignedHeadRow(db).read();
  const file = readStateFile(stateFile);
  if (!row || !file) return row ?? file;
  return file.size > row.size ? file : row;
}
