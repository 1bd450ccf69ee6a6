/**
 * The registry's state in one place: the read connection and the log store
 * over it, the head signer, the write backend (a writer thread that owns the
 * write connection and every commit) and the publication of a head behind
 * each commit. Use-cases (register, events, attribution, evidence, log reads)
 * are built on it and are what the HTTP layer calls; they write by recording
 * facts (write-facts.ts), never through this thread's connection.
 */
import type Database from "better-sqlite3";
import { RegistryError } from "../core/errors.js";
import type { RegistryIdentity } from "../core/identity.js";
import type { Logger } from "../log.js";
import { ForkError, HeadSigner } from "../tlog/head-signer.js";
import { SignedHeadRow, type StateFileSink } from "../tlog/signed-head-record.js";
import { TlogStore } from "../tlog/store.js";
import { HeadPublication, type PublicationObserver } from "./head-publication.js";
import { ReadTurn } from "./read-turn.js";
import type { CommitObserver } from "./sequencer.js";
import { systemClock, type Clock } from "./time.js";
import type { WriteFact } from "./write-facts.js";
import { ThreadWriter } from "./writer-thread.js";

/** What the registry reports to whoever collects metrics (the HTTP layer's Prometheus registry). */
export interface RegistryObserver extends CommitObserver {
  proofVerificationFailed(): void;
  /** A head was published (signed and written to the state file); it took `seconds`. */
  headPublished(seconds: number): void;
  /** A head could not be published; the next commit tries again. */
  headPublicationFailed(): void;
}

export interface RegistryOptions {
  /** The read connection, on a database file: the writer thread opens its own connection to the same file. */
  db: Database.Database;
  identity: RegistryIdentity;
  /** C2SP checkpoint origin line. */
  origin: string;
  /** `signedHeadFile(<data dir>)` (tlog/signed-head-record.ts): the largest signed head, a second guard against serving a fork. */
  signedHeadFile: string;
  clock?: Clock;
  observer?: RegistryObserver;
  /** Where a failed head publication is told (once until one succeeds again). */
  logger?: Logger;
  /** Opens the state file for publications (tlog/head-signer.ts); tests hold or fail its writes with it. */
  openStateFile?: (file: string) => StateFileSink;
  /** Least time between two head publications that no read waits for (head-publication.ts); HEAD_PUBLICATION_GAP_MS by default. */
  headPublicationGapMs?: number;
}

/**
 * While writes stream in and nobody reads the head, one publication per
 * 50 ms (at most 20 a second, about 1 % of a core) instead of one per
 * commit (150 a second at 8,000 beacons/s, a fifth of the server's CPU).
 */
export const HEAD_PUBLICATION_GAP_MS = 50;

export class Registry {
  readonly db: Database.Database;
  readonly identity: RegistryIdentity;
  readonly store: TlogStore;
  /** Proofs answered in one turn of the event loop read in one transaction (read-turn.ts). */
  readonly readTurn: ReadTurn;
  readonly heads: HeadSigner;
  /** Null for a forked log, which takes no writes. */
  readonly writer: ThreadWriter | null;
  readonly clock: Clock;
  readonly observer: RegistryObserver | undefined;
  /** Set when the log does not extend the largest head this registry signed: reads only, no signing, no writes. */
  readonly fork: ForkError | null;
  private readonly signedRow: SignedHeadRow;
  private readonly publication: HeadPublication;
  private readonly logger: Logger | undefined;

  constructor(options: RegistryOptions) {
    this.db = options.db;
    this.identity = options.identity;
    this.clock = options.clock ?? systemClock;
    this.observer = options.observer;
    this.logger = options.logger;
    this.store = new TlogStore(this.db);
    this.readTurn = new ReadTurn(this.db, () => this.store.size());
    this.heads = new HeadSigner({
      db: this.db,
      store: this.store,
      signer: options.identity.signer,
      origin: options.origin,
      stateFile: options.signedHeadFile,
      clock: this.clock,
      ...(options.openStateFile ? { openStateFile: options.openStateFile } : {}),
    });
    this.fork = detectFork(this.heads);
    // A forked log is only read: nothing is signed or written, reads of heads answer 503 (assertHealthy).
    if (!this.fork) this.heads.publishCurrent();
    this.signedRow = new SignedHeadRow(this.db);
    this.publication = new HeadPublication({
      // The signer refuses to sign inside a transaction: the turn's reads end theirs first.
      publish: () => {
        this.readTurn.end();
        return this.heads.publish();
      },
      observer: this.reportPublications(),
      gapMs: options.headPublicationGapMs ?? HEAD_PUBLICATION_GAP_MS,
    });
    this.writer = this.fork ? null : this.startWriter();
  }

  /** Resolves once the writer thread has opened the database (at once for a forked log); rejects if it could not. */
  started(): Promise<void> {
    return this.writer?.started ?? Promise.resolve();
  }

  /** The size reads answer at: the newest published head's (a forked log publishes none and takes no writes: its size). */
  publishedSize(): number {
    return this.heads.publishedSize() ?? this.store.size();
  }

  /**
   * null when reads can answer at `size` leaves now: the published head
   * covers them, or the log has fewer (the read answers 404), or no
   * publication is under way (the last one failed: the read answers from the
   * published head, or 503). Otherwise the publication that covers every
   * commit so far, brought forward if it was waiting for its time; it
   * settles, published or failed.
   */
  publishing(size: number): Promise<void> | null {
    if (size <= this.publishedSize() || size > this.store.size()) return null;
    return this.publication.covering();
  }

  /** Resolves once every submitted write is committed or failed and the head covering them is published (or failed to be). */
  async drain(): Promise<void> {
    await this.writer?.drain();
    for (let waiting = this.publication.covering(); waiting !== null; waiting = this.publication.covering()) {
      this.logger?.info("waiting for the tree head publication under way", { committed_size: this.store.size() });
      await waiting;
    }
  }

  /** Throws the 503 every write and every signature gets while the log is forked. */
  assertHealthy(): void {
    if (this.fork) {
      throw new RegistryError("server_error", "the log does not extend the largest head this registry signed; see the server log", {
        status: 503,
      });
    }
  }

  /** Records `fact` once the registry is known to be healthy; resolves with its leaf index once it is durable and readable. */
  write(fact: WriteFact): Promise<number> {
    this.assertHealthy();
    return this.writer!.record(fact);
  }

  /** False while writes are refused: a forked log, or a writer thread that stopped (the server log says why). */
  writable(): boolean {
    return this.writer !== null && !this.writer.failed;
  }

  /** For the metrics gauge: how stale the newest published head is (a forked log publishes none: its recorded one; null before any). */
  secondsSinceSignedHead(): number | null {
    const signedAt = this.heads.publishedAt() ?? this.signedRow.signedAt();
    return signedAt === null ? null : Math.max(0, this.clock() - signedAt);
  }

  /** Drains and stops the writer thread, then closes the state file and the read connection. */
  async close(): Promise<void> {
    this.publication.stop();
    await this.writer?.close();
    this.heads.close();
    this.readTurn.end();
    this.db.close();
  }

  /**
   * The writer thread, on this connection's file and synchronous mode. It is
   * started after the fork check and the start-up head: until then this
   * connection was the only one that wrote.
   */
  private startWriter(): ThreadWriter {
    if (this.db.memory) throw new Error("the registry's writer thread needs a database file, not :memory:");
    const synchronous = this.db.pragma("synchronous", { simple: true }) === 1 ? "NORMAL" : "FULL";
    return new ThreadWriter(
      { file: this.db.name, synchronous },
      {
        committed: ({ size, peaks }) => {
          if (size <= this.store.size()) return;
          this.store.advance(size, peaks);
          this.publication.committed();
        },
        observeCommit: (jobs, seconds, ok) => this.observer?.observeCommit(jobs, seconds, ok),
        failed: (error) => {
          this.logger?.error("the writer thread stopped: writes answer 503 until the registry restarts", { error });
        },
      },
    );
  }

  /** Times every publication, counts every failed one, and logs the first of a run of failures and the publication that ends it. */
  private reportPublications(): PublicationObserver {
    let failing = false;
    return {
      published: (seconds) => {
        this.observer?.headPublished(seconds);
        if (!failing) return;
        failing = false;
        this.logger?.info("published a tree head again", { size: this.publishedSize() });
      },
      failed: (error) => {
        this.observer?.headPublicationFailed();
        if (failing) return;
        failing = true;
        this.logger?.error("could not publish a tree head: reads answer from the last published one until a later commit publishes", {
          error,
          published_size: this.publishedSize(),
          committed_size: this.store.size(),
        });
      },
    };
  }
}

function detectFork(heads: HeadSigner): ForkError | null {
  try {
    heads.verifyNotForked();
    return null;
  } catch (error) {
    if (error instanceof ForkError) return error;
    throw error;
  }
}
