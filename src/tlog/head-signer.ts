/**
 * Signs v1 tree heads and C2SP checkpoints for the log's current size, and
 * refuses to sign a fork.
 *
 * The largest size ever signed and its root are kept twice: in the
 * `tlog_signed` row of the database and in a JSON state file beside it. Either
 * one alone catches a restored backup or a wrong database file; keeping both
 * means a database rolled back together with its own `tlog_signed` row is still
 * caught by the file, and a lost file by the row. Before every new signature
 * the current tree must extend every record: be at least that large and have
 * the recorded root at the recorded size.
 */
import type Database from "better-sqlite3";
import { readFileSync } from "node:fs";
import { writeFileDurably } from "../core/durable-file.js";
import path from "node:path";
import { z } from "zod";
import type { Signer } from "../core/ed25519.js";
import { toHex } from "../core/hex.js";
import { signCheckpoint } from "./checkpoint.js";
import { signTreeHead, TreeSizeSchema, type SignedTreeHead } from "./heads.js";
import { verifierKey } from "./note.js";

/** What the signer needs from the log (TlogStore provides it). */
export interface TreeSource {
  size(): number;
  root(size?: number): Buffer;
}

export interface HeadSignerOptions {
  db: Database.Database;
  store: TreeSource;
  signer: Signer;
  /** C2SP checkpoint origin, also the note key name. */
  origin: string;
  /** JSON file holding the largest signed size and root; written atomically. */
  stateFile: string;
  /** Unix seconds for `signed_at`; injectable so tests need no clock. */
  now?: () => number;
}

export interface SignedRecord {
  size: number;
  root: Buffer;
  signedAt: number;
}

export type RecordSource = "database" | "state file";

export class ForkError extends Error {
  constructor(
    message: string,
    /** Which record the tree failed to extend. */
    readonly source: RecordSource,
    /** The recorded signed size (null when the record itself is unreadable). */
    readonly signedSize: number | null,
    readonly treeSize: number,
  ) {
    super(message);
    this.name = "ForkError";
  }
}

/** The state file beside a database file: `<db>.signed-head.json`. */
export const stateFileFor = (dbFile: string): string =>
  path.join(path.dirname(path.resolve(dbFile)), `${path.basename(dbFile)}.signed-head.json`);

const StateFileSchema = z.strictObject({
  size: TreeSizeSchema,
  root: z.string().regex(/^[0-9a-f]{64}$/),
  signed_at: z.number().int().nonnegative(),
});

const DbRowSchema = z.object({
  size: TreeSizeSchema,
  root: z.instanceof(Buffer).refine((b) => b.length === 32, "root must be 32 bytes"),
  signed_at: z.number().int(),
});

export class HeadSigner {
  readonly origin: string;
  private readonly db: Database.Database;
  private readonly store: TreeSource;
  private readonly signer: Signer;
  private readonly stateFile: string;
  private readonly now: () => number;
  private cachedHead: SignedTreeHead | null = null;
  private cachedCheckpoint: { size: number; text: string } | null = null;

  constructor(options: HeadSignerOptions) {
    this.db = options.db;
    this.store = options.store;
    this.signer = options.signer;
    this.origin = options.origin;
    this.stateFile = options.stateFile;
    this.now = options.now ?? (() => Math.floor(Date.now() / 1000));
    // Fail at construction, not at the first request, on an origin that cannot name a note key.
    verifierKey(this.origin, this.signer.publicKey);
  }

  verifierKey(): string {
    return verifierKey(this.origin, this.signer.publicKey);
  }

  /** The largest signed record across the database and the state file, or null before the first signature. */
  largestSigned(): SignedRecord | null {
    return larger(this.readDbRecord(), this.readStateFile());
  }

  /** Throws ForkError unless the current tree extends every signed record (called at start-up). */
  verifyNotForked(): void {
    this.enforce();
  }

  /** The signed v1 head for the current size; the same object until the size changes. */
  head(): SignedTreeHead {
    const size = this.store.size();
    if (this.cachedHead?.size === size) return this.cachedHead;
    const root = this.prepareToSign(size);
    this.cachedHead = signTreeHead(this.signer, size, root);
    return this.cachedHead;
  }

  /** The signed C2SP checkpoint note for the current size; cached like head(). */
  checkpoint(): string {
    const size = this.store.size();
    if (this.cachedCheckpoint?.size === size) return this.cachedCheckpoint.text;
    const root = this.prepareToSign(size);
    const text = signCheckpoint({ origin: this.origin, size, root }, this.signer);
    this.cachedCheckpoint = { size, text };
    return text;
  }

  /** Checks for a fork and persists the size about to be signed; returns its root. */
  private prepareToSign(size: number): Buffer {
    // Inside a transaction the newest leaves may still roll back and be replaced:
    // a signature over them could become a fork of the log that finally commits.
    if (this.db.inTransaction) throw new Error("refusing to sign a tree head inside an open database transaction");
    const records = this.enforce();
    const root = this.store.root(size);
    if (size > (records.largest?.size ?? -1)) this.persist({ size, root, signedAt: this.now() }, records);
    return root;
  }

  /**
   * Checks the tree against both records. When it passes and one record lags
   * (a lost state file, a crash between the two writes), that one is brought
   * up to the other so both guards stay armed.
   */
  private enforce(): Records {
    const db = this.readDbRecord();
    const file = this.readStateFile();
    const treeSize = this.store.size();
    if (db) this.checkExtends(db, "database", treeSize);
    if (file) this.checkExtends(file, "state file", treeSize);
    const largest = larger(db, file);
    if (largest && (db?.size !== largest.size || file?.size !== largest.size)) {
      this.persist(largest, { db, file, largest });
      return { db: largest, file: largest, largest };
    }
    return { db, file, largest };
  }

  private checkExtends(record: SignedRecord, source: RecordSource, treeSize: number): void {
    const where = source === "database" ? "the database's tlog_signed row" : `the state file ${this.stateFile}`;
    const signed = `a head of size ${record.size} with root ${toHex(record.root)}`;
    if (treeSize < record.size) {
      throw new ForkError(
        `refusing to sign: the log has ${treeSize} leaves but ${where} records that ${signed} was signed; ` +
          "the log was rolled back or replaced (a restored backup or the wrong database file?)",
        source,
        record.size,
        treeSize,
      );
    }
    const actual = this.store.root(record.size);
    if (!actual.equals(record.root)) {
      throw new ForkError(
        `refusing to sign: the log's root at size ${record.size} is ${toHex(actual)} (current size ${treeSize}) but ` +
          `${where} records that ${signed} was signed; this log is a fork of what was signed`,
        source,
        record.size,
        treeSize,
      );
    }
  }

  private readDbRecord(): SignedRecord | null {
    const row = this.db.prepare("SELECT size, root, signed_at FROM tlog_signed WHERE id = 1").get();
    if (row === undefined) return null;
    const parsed = DbRowSchema.safeParse(row);
    if (!parsed.success) {
      throw new ForkError("refusing to sign: the database's tlog_signed row is malformed", "database", null, this.store.size());
    }
    return { size: parsed.data.size, root: parsed.data.root, signedAt: parsed.data.signed_at };
  }

  private readStateFile(): SignedRecord | null {
    let text: string;
    try {
      text = readFileSync(this.stateFile, "utf8");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
      throw error;
    }
    let parsed;
    try {
      parsed = StateFileSchema.safeParse(JSON.parse(text));
    } catch {
      parsed = null;
    }
    if (!parsed?.success) {
      // Ignoring it would silently drop one of the two fork guards.
      throw new ForkError(
        `refusing to sign: the state file ${this.stateFile} is malformed; repair or remove it`,
        "state file",
        null,
        this.store.size(),
      );
    }
    return { size: parsed.data.size, root: Buffer.from(parsed.data.root, "hex"), signedAt: parsed.data.signed_at };
  }

  /** Writes `record` wherever it is larger than what is there; both before anything signed is returned. */
  private persist(record: SignedRecord, current: Records): void {
    if (!current.db || record.size > current.db.size) {
      this.db
        .prepare(
          `INSERT INTO tlog_signed (id, size, root, signed_at) VALUES (1, ?, ?, ?)
           ON CONFLICT(id) DO UPDATE SET size = excluded.size, root = excluded.root, signed_at = excluded.signed_at`,
        )
        .run(record.size, record.root, record.signedAt);
    }
    if (!current.file || record.size > current.file.size) {
      writeFileDurably(this.stateFile, JSON.stringify({ size: record.size, root: toHex(record.root), signed_at: record.signedAt }) + "\n");
    }
  }
}

interface Records {
  db: SignedRecord | null;
  file: SignedRecord | null;
  largest: SignedRecord | null;
}

function larger(a: SignedRecord | null, b: SignedRecord | null): SignedRecord | null {
  if (!a || !b) return a ?? b;
  return b.size > a.size ? b : a;
}

