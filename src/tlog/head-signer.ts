/**
 * Signs v1 tree heads and C2SP checkpoints for the log's current size, and
 * refuses to sign a fork.
 *
 * The largest size ever signed and its root are kept twice: in the
 * `tlog_signed` row of the database and in a JSON state file in the data
 * directory (their formats: signed-head-record.ts). Either
 * one alone catches a restored backup or a wrong database file; keeping both
 * means a database rolled back together with its own `tlog_signed` row is still
 * caught by the file, and a lost file by the row. Before every new signature
 * the current tree must extend every record: be at least that large and have
 * the recorded root at the recorded size.
 */
import type Database from "better-sqlite3";
import type { Signer } from "../core/ed25519.js";
import { toHex } from "../core/hex.js";
import { signCheckpoint } from "./checkpoint.js";
import { signTreeHead, type SignedTreeHead } from "./heads.js";
import { verifierKey } from "./note.js";
import { MalformedSignedHeadError, readStateFile, SignedHeadRow, writeStateFile, type RecordSource, type SignedRecord } from "./signed-head-record.js";

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
  /** `<data dir>/tlog-signed-head.json` (signed-head-record.ts); written atomically. */
  stateFile: string;
  /** Unix seconds for `signed_at`: the registry's clock (registry/time.ts), so every time it records agrees. */
  clock: () => number;
}

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

export class HeadSigner {
  readonly origin: string;
  private readonly db: Database.Database;
  private readonly store: TreeSource;
  private readonly signer: Signer;
  private readonly stateFile: string;
  private readonly clock: () => number;
  private readonly row: SignedHeadRow;
  private cachedHead: SignedTreeHead | null = null;
  private cachedCheckpoint: { size: number; text: string } | null = null;

  constructor(options: HeadSignerOptions) {
    this.db = options.db;
    this.store = options.store;
    this.signer = options.signer;
    this.origin = options.origin;
    this.stateFile = options.stateFile;
    this.clock = options.clock;
    this.row = new SignedHeadRow(this.db);
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
    if (size > (records.largest?.size ?? -1)) this.persist({ size, root, signedAt: this.clock() }, records);
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
    return this.readRecord(() => this.row.read());
  }

  private readStateFile(): SignedRecord | null {
    // Ignoring a malformed file would silently drop one of the two fork guards.
    return this.readRecord(() => readStateFile(this.stateFile));
  }

  private readRecord(read: () => SignedRecord | null): SignedRecord | null {
    try {
      return read();
    } catch (error) {
      if (!(error instanceof MalformedSignedHeadError)) throw error;
      throw new ForkError(`refusing to sign: ${error.message}`, error.source, null, this.store.size());
    }
  }

  /** Writes `record` wherever it is larger than what is there; both before anything signed is returned. */
  private persist(record: SignedRecord, current: Records): void {
    if (!current.db || record.size > current.db.size) {
      this.row.write(record);
    }
    if (!current.file || record.size > current.file.size) writeStateFile(this.stateFile, record);
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
