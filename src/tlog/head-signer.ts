/**
 * Signs v1 tree heads and C2SP checkpoints for the log's committed size, and
 * refuses to sign a fork.
 *
 * The largest size ever signed and its root are kept twice: in the
 * `tlog_signed` row of the database and in a state file in the data
 * directory (their formats: signed-head-record.ts). Either
 * one alone catches a restored backup or a wrong database file; keeping both
 * means a database rolled back together with its own `tlog_signed` row is still
 * caught by the file, and a lost file by the row. At start-up the tree must
 * extend every record: be at least that large and have the recorded root at
 * the recorded size.
 *
 * Heads are published by the write path, never by a read: each batch writes
 * the row inside its transaction (recordCommitted, on the writer thread), and
 * after the commit `publish` signs the committed tree and writes the state
 * file in place; only
 * then is the head served, so no head is served that both guards don't cover.
 * Reads take the newest published head as it is (a read that needs a newer
 * one waits for the publication under way: registry/head-publication.ts).
 */
import type Database from "better-sqlite3";
import type { Signer } from "../core/ed25519.js";
import { toHex } from "../core/hex.js";
import { signCheckpoint } from "./checkpoint.js";
import { signTreeHead, type SignedTreeHead } from "./heads.js";
import { verifierKey } from "./note.js";
import {
  MalformedSignedHeadError,
  readStateFile,
  SignedHeadRow,
  StateFileWriter,
  writeStateFile,
  type RecordSource,
  type SignedRecord,
  type StateFileSink,
} from "./signed-head-record.js";

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
  /** Opens the state file for publications; a StateFileWriter unless a test holds or fails its writes. */
  openStateFile?: (file: string) => StateFileSink;
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
  private readonly file: StateFileSink;
  private published: Published | null = null;

  constructor(options: HeadSignerOptions) {
    this.db = options.db;
    this.store = options.store;
    this.signer = options.signer;
    this.origin = options.origin;
    this.stateFile = options.stateFile;
    this.clock = options.clock;
    this.row = new SignedHeadRow(this.db);
    this.file = (options.openStateFile ?? ((file) => new StateFileWriter(file)))(this.stateFile);
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

  /**
   * At start-up: checks the tree against both records, brings them up to the
   * current size and signs it. From then on this process is the records' only writer (the data
   * directory's lock), and it writes them only from the tree it committed.
   */
  publishCurrent(): void {
    const size = this.store.size();
    this.published = this.sign(size, this.prepareToSign(size));
  }

  /**
   * After a commit: signs the committed tree and writes it to the state file
   * (the row is already there, recordCommitted); serves it only once both
   * guards cover it. Callers take turns (HeadPublication).
   */
  async publish(): Promise<void> {
    if (this.db.inTransaction) throw new Error("refusing to sign a tree head inside an open database transaction");
    const size = this.store.size();
    if (this.published && size <= this.published.size) return;
    const root = this.store.root(size);
    const next = this.sign(size, root);
    await this.file.write({ size, root, signedAt: next.signedAt });
    this.published = next;
  }

  /** The size of the newest published head; null before the first (a forked log publishes none). */
  publishedSize(): number | null {
    return this.published?.size ?? null;
  }

  /** When the newest published head was signed (Unix seconds); null before the first that commits to a leaf. */
  publishedAt(): number | null {
    return this.published && this.published.size > 0 ? this.published.signedAt : null;
  }

  /** The newest published v1 head; reads serve only this and never sign. */
  head(): SignedTreeHead {
    return this.current().head;
  }

  /** The C2SP checkpoint note of the newest published head. */
  checkpoint(): string {
    return this.current().checkpoint;
  }

  close(): void {
    this.file.close();
  }

  private current(): Published {
    if (!this.published) throw new Error("no tree head has been published yet");
    return this.published;
  }

  private sign(size: number, root: Buffer): Published {
    return {
      size,
      signedAt: this.clock(),
      head: signTreeHead(this.signer, size, root),
      checkpoint: signCheckpoint({ origin: this.origin, size, root }, this.signer),
    };
  }

  /** Checks for a fork and persists the size about to be signed; returns its root. */
  private prepareToSign(size: number): Buffer {
    // Inside a transaction the newest leaves may still roll back and be replaced:
    // a signature over them could become a fork of the log that finally commits.
    if (this.db.inTransaction) throw new Error("refusing to sign a tree head inside an open database transaction");
    const records = this.enforce();
    const root = this.store.root(size);
    // Every tree extends the empty one: a head of size 0 commits to nothing, so it needs no record.
    if (size > (records.largest?.size ?? 0)) this.persist({ size, root, signedAt: this.clock() }, records);
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

/**
 * Inside a batch's transaction, after its jobs: the row records the size
 * the batch leaves, committed with the leaves or rolled back with them,
 * so the row covers every head signed after the commit.
 */
export function recordCommitted(row: SignedHeadRow, tree: TreeSource, signedAt: number): void {
  const size = tree.size();
  row.write({ size, root: tree.root(size), signedAt });
}

interface Published {
  size: number;
  /** Unix seconds. */
  signedAt: number;
  head: SignedTreeHead;
  checkpoint: string;
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
