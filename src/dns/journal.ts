/**
 * The bridge's durable journal: every beacon query is a row here before it is
 * answered, and leaves only when the registry acknowledged it (200) or
 * refused it for good (dead letters). SQLite in the bridge's data directory,
 * opened like the registry's database (0600, WAL, numbered migrations).
 * Appends go through the same group-committing sequencer, so a burst of
 * queries costs one fsync; with synchronous=FULL the thread that committed
 * makes that fsync right after the commit (wal-sync.ts), and an append
 * resolves only once it returned. Settlements ride on the appends' fsyncs
 * (settle). It is opened and written on the thread that answers queries
 * (bridge-journal.ts); the sender thread reads and settles it by asking that
 * thread, and `dns-bridge status` reads it through a read-only connection of
 * its own.
 */
import type Database from "better-sqlite3";
import { randomBytes } from "node:crypto";
import { performance } from "node:perf_hooks";
import path from "node:path";
import { z } from "zod";
import { openDatabase, type Synchronous } from "../registry/database.js";
import { WriteSequencer, type CommitObserver } from "../registry/sequencer.js";
import { WalSync, type Fdatasync } from "./wal-sync.js";

export const JOURNAL_FILE = "dns-bridge-journal.sqlite";

const OLDEST_SQL = "SELECT * FROM pending ORDER BY id LIMIT ?";

export const JOURNAL_MIGRATIONS: readonly string[] = [
  `
CREATE TABLE pending (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT NOT NULL UNIQUE,
    token_id TEXT NOT NULL,
    client_ip TEXT NOT NULL,
    qtype TEXT NOT NULL,
    qname TEXT NOT NULL,
    received_at INTEGER NOT NULL
);
CREATE TABLE dead_letters (
    id INTEGER PRIMARY KEY,
    event_id TEXT NOT NULL UNIQUE,
    token_id TEXT NOT NULL,
    client_ip TEXT NOT NULL,
    qtype TEXT NOT NULL,
    qname TEXT NOT NULL,
    received_at INTEGER NOT NULL,
    status INTEGER NOT NULL,
    answer TEXT NOT NULL,
    failed_at INTEGER NOT NULL
);
CREATE TABLE counters (
    name TEXT PRIMARY KEY,
    value INTEGER NOT NULL
) WITHOUT ROWID;
`,
  // An append wrote three pages: its row's, the event_id index's (at a random place) and sqlite_sequence's
  // (AUTOINCREMENT). A plain rowid still gives every new row an id above every row present, which is all the
  // journal's order needs: an id is reused only after its row left, and nothing refers to it then (dead letters
  // keep their own). The event_id is 16 random bytes: no index has to prove it unique.
  `
CREATE TABLE pending_by_rowid (
    id INTEGER PRIMARY KEY,
    event_id TEXT NOT NULL,
    token_id TEXT NOT NULL,
    client_ip TEXT NOT NULL,
    qtype TEXT NOT NULL,
    qname TEXT NOT NULL,
    received_at INTEGER NOT NULL
);
INSERT INTO pending_by_rowid SELECT id, event_id, token_id, client_ip, qtype, qname, received_at FROM pending;
DROP TABLE pending;
ALTER TABLE pending_by_rowid RENAME TO pending;
DELETE FROM sqlite_sequence WHERE name = 'pending';
`,
];

/**
 * The page size of a new journal. A group commit writes every page it
 * touched whole to the WAL and fsyncs it, and at 5,000 queries a second a
 * commit holds a handful of rows of ~150 bytes: with 4 KiB pages the bridge
 * wrote 19–31 MB/s to the disk the registry commits to.
 */
const JOURNAL_PAGE_SIZE = 1024;

export const JournalEntrySchema = z.object({
  id: z.number().int(),
  event_id: z.string(),
  token_id: z.string(),
  client_ip: z.string(),
  qtype: z.string(),
  qname: z.string(),
  received_at: z.number().int(),
});
export type JournalEntry = z.infer<typeof JournalEntrySchema>;

export const DeadLetterSchema = JournalEntrySchema.extend({
  status: z.number().int(),
  answer: z.string(),
  failed_at: z.number().int(),
});
export type DeadLetter = z.infer<typeof DeadLetterSchema>;

export type NewEvent = Pick<JournalEntry, "token_id" | "client_ip" | "qtype" | "qname">;

export interface Backlog {
  pending: number;
  /** Milliseconds since the Unix epoch of the oldest undelivered event, or null when none waits. */
  oldest_received_at: number | null;
  dead_letters: number;
  delivered: number;
}

/**
 * Event ids are 16 random bytes. They are drawn for many ids at once: one
 * draw per id (a call into OpenSSL each) was about 8% of the answering
 * thread's busy time at 5,000 queries a second.
 */
const EVENT_ID_BYTES = 16;
const EVENT_IDS_PER_DRAW = 256;
let eventIdPool = Buffer.alloc(0);
let eventIdOffset = 0;

function newEventId(): string {
  if (eventIdOffset === eventIdPool.length) {
    eventIdPool = randomBytes(EVENT_ID_BYTES * EVENT_IDS_PER_DRAW);
    eventIdOffset = 0;
  }
  const id = eventIdPool.toString("hex", eventIdOffset, eventIdOffset + EVENT_ID_BYTES);
  eventIdOffset += EVENT_ID_BYTES;
  return id;
}

/** An answer body kept with a dead letter is cut here: enough to read the registry's message. */
const MAX_ANSWER_CHARS = 2000;

export interface JournalOptions {
  /** FULL: every append durable before it resolves (its WAL fdatasync'd); NORMAL: SQLite's NORMAL. */
  synchronous?: Synchronous;
  now?: () => number;
  /** Told the duration of every transaction. */
  observer?: CommitObserver;
  /** Told the duration of every fdatasync of the WAL (synchronous=FULL). */
  observeSync?: (seconds: number) => void;
  /** The WAL's fdatasync (synchronous=FULL), default fs.fdatasyncSync. */
  fdatasync?: Fdatasync | undefined;
}

export class Journal {
  readonly db: Database.Database;
  private readonly sequencer: WriteSequencer;
  private readonly now: () => number;
  /** FULL's fsync, made after the commit by the journal instead of inside it by SQLite; null with NORMAL. */
  private readonly wal: WalSync | null;
  private readonly observer: CommitObserver | undefined;
  private readonly sql;
  /** Undelivered rows, kept in memory so the size cap costs no query per event. */
  private pendingCount: number;

  constructor(dataDir: string, options: JournalOptions = {}) {
    this.observer = options.observer;
    const file = path.join(dataDir, JOURNAL_FILE);
    // The connection never syncs a commit itself: with FULL, `wal` does it after the commit.
    this.db = openDatabase(file, { synchronous: "NORMAL", migrations: JOURNAL_MIGRATIONS, pageSize: JOURNAL_PAGE_SIZE });
    // The thread that commits also answers every query: a lock held by another program must fail the append (its
    // query is answered SERVFAIL and asked again) at once, not stall every answer for the busy timeout.
    this.db.pragma("busy_timeout = 0");
    this.wal = (options.synchronous ?? "FULL") === "FULL" ? WalSync.open(file, { observe: options.observeSync, fdatasync: options.fdatasync }) : null;
    this.now = options.now ?? Date.now;
    const wal = this.wal;
    const observer: CommitObserver = {
      observeCommit: (jobs, seconds, ok) => {
        if (ok) wal?.committed();
        options.observer?.observeCommit(jobs, seconds, ok);
      },
    };
    this.sequencer = new WriteSequencer(this.db, { resync: () => {}, observer });
    const db = this.db;
    this.sql = {
      append: db.prepare(
        "INSERT INTO pending (event_id, token_id, client_ip, qtype, qname, received_at) VALUES (@event_id, @token_id, @client_ip, @qtype, @qname, @received_at)",
      ),
      remove: db.prepare<[number]>("DELETE FROM pending WHERE id = ?"),
      deadLetter: db.prepare(
        `INSERT OR IGNORE INTO dead_letters (event_id, token_id, client_ip, qtype, qname, received_at, status, answer, failed_at)
         VALUES (@event_id, @token_id, @client_ip, @qtype, @qname, @received_at, @status, @answer, @failed_at)`,
      ),
      count: db.prepare("SELECT count(*) FROM pending").pluck(),
      oldest: db.prepare<[number], unknown>(OLDEST_SQL),
      bump: db.prepare<[string, number]>("INSERT INTO counters (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = value + excluded.value"),
    };
    this.pendingCount = this.sql.count.get() as number;
  }

  /** Events not yet delivered nor dead-lettered, appended ones included before their commit. */
  get pending(): number {
    return this.pendingCount;
  }

  /** Durably records one event under a fresh idempotency key; resolves after the commit. */
  append(event: NewEvent): Promise<JournalEntry> {
    const { wal } = this;
    // A WAL that could not be synced acknowledges nothing more; a row committed behind it would only be a copy that
    // the resolver's retry, answered SERVFAIL like this one, journals again.
    if (wal?.failure) return Promise.reject(wal.failure);
    const row = { ...event, event_id: newEventId(), received_at: this.now() };
    this.pendingCount++;
    const committed = this.sequencer
      .submit(() => ({ ...row, id: Number(this.sql.append.run(row).lastInsertRowid) }))
      .catch((error: unknown) => {
        this.pendingCount--;
        throw error;
      });
    // Runs as soon as the commit's turn of the event loop has committed, before anything else does: the first
    // append of the commit makes the fsync, the others find it made. A failed fdatasync fails every append of the
    // commit (its query is answered SERVFAIL), though their rows stay and are delivered, and every later append.
    return wal === null
      ? committed
      : committed.then((entry) => {
          wal.sync();
          return entry;
        });
  }

  /** The oldest undelivered events, in the order they were journaled. */
  oldest(limit: number): JournalEntry[] {
    // Prepared once: the sender asks for this every delivery round, on the thread that answers.
    return this.sql.oldest.all(limit).map((row) => JournalEntrySchema.parse(row));
  }

  /**
   * Settles a round of deliveries in one transaction: acknowledged events
   * leave, refused ones become dead letters. It runs at once, outside the
   * group commit, and without an fsync of its own (synchronous=NORMAL): the
   * next append's fsync syncs the whole WAL and carries it to the disk. So
   * the appends waiting for their commit, and the answers waiting for
   * them, never wait behind a delivery's fsync. A settlement lost in a power
   * cut before that only brings its events back: they are sent again under
   * their event_id and stay one leaf each, as after a crash between a
   * delivery and its settlement.
   */
  settle(delivered: JournalEntry[], refused: { entry: JournalEntry; status: number; answer: string }[]): Promise<void> {
    if (delivered.length === 0 && refused.length === 0) return Promise.resolve();
    const failedAt = this.now();
    const started = performance.now();
    try {
      this.db
        .transaction(() => {
          for (const entry of delivered) this.sql.remove.run(entry.id);
          for (const { entry, status, answer } of refused) {
            this.sql.deadLetter.run({ ...entry, status, answer: answer.slice(0, MAX_ANSWER_CHARS), failed_at: failedAt });
            this.sql.remove.run(entry.id);
          }
          if (delivered.length > 0) this.sql.bump.run("delivered", delivered.length);
        })
        .immediate();
    } catch (error) {
      return Promise.reject(error);
    }
    this.observer?.observeCommit(delivered.length + refused.length, (performance.now() - started) / 1000, true);
    this.pendingCount -= delivered.length + refused.length;
    return Promise.resolve();
  }

  backlog(): Backlog {
    return readBacklog(this.db);
  }

  deadLetters(limit: number): DeadLetter[] {
    return readDeadLetters(this.db, limit);
  }

  async close(): Promise<void> {
    await this.sequencer.drain();
    this.wal?.close();
    this.db.close();
  }
}

/** The backlog as stored: what `dns-bridge status` prints and the metrics report. */
export function readBacklog(db: Database.Database): Backlog {
  return {
    pending: db.prepare("SELECT count(*) FROM pending").pluck().get() as number,
    oldest_received_at: (db.prepare("SELECT min(received_at) FROM pending").pluck().get() as number | null) ?? null,
    dead_letters: db.prepare("SELECT count(*) FROM dead_letters").pluck().get() as number,
    delivered: (db.prepare("SELECT value FROM counters WHERE name = 'delivered'").pluck().get() as number | undefined) ?? 0,
  };
}

/** The latest dead letters, newest first. */
export function readDeadLetters(db: Database.Database, limit: number): DeadLetter[] {
  return db
    .prepare<[number], unknown>("SELECT * FROM dead_letters ORDER BY id DESC LIMIT ?")
    .all(limit)
    .map((row) => DeadLetterSchema.parse(row));
}

/** Opens an existing journal read-only, for `dns-bridge status` beside a running bridge. */
export function openJournalReadOnly(dataDir: string): Database.Database {
  return openDatabase(path.join(dataDir, JOURNAL_FILE), { readonly: true, migrations: JOURNAL_MIGRATIONS });
}
