/**
 * The registry's state in one place: the database, the log store, the head
 * signer and the write sequencer, which publishes a head after each commit. Use-cases (register, events, attribution,
 * evidence, log reads) are built on it and are what the HTTP layer calls.
 */
import type Database from "better-sqlite3";
import { RegistryError } from "../core/errors.js";
import type { RegistryIdentity } from "../core/identity.js";
import { ForkError, HeadSigner } from "../tlog/head-signer.js";
import { SignedHeadRow } from "../tlog/signed-head-record.js";
import { TlogStore } from "../tlog/store.js";
import { HeadPublication } from "./head-publication.js";
import { WriteSequencer, type CommitObserver } from "./sequencer.js";
import { systemClock, type Clock } from "./time.js";

/** What the registry reports to whoever collects metrics (the HTTP layer's Prometheus registry). */
export interface RegistryObserver extends CommitObserver {
  proofVerificationFailed(): void;
}

export interface RegistryOptions {
  db: Database.Database;
  identity: RegistryIdentity;
  /** C2SP checkpoint origin line. */
  origin: string;
  /** `signedHeadFile(<data dir>)` (tlog/signed-head-record.ts): the largest signed head, a second guard against serving a fork. */
  signedHeadFile: string;
  clock?: Clock;
  observer?: RegistryObserver;
}

export class Registry {
  readonly db: Database.Database;
  readonly identity: RegistryIdentity;
  readonly store: TlogStore;
  readonly heads: HeadSigner;
  readonly sequencer: WriteSequencer;
  readonly clock: Clock;
  readonly observer: RegistryObserver | undefined;
  /** Set when the log does not extend the largest head this registry signed: reads only, no signing, no writes. */
  readonly fork: ForkError | null;
  private readonly signedRow: SignedHeadRow;

  constructor(options: RegistryOptions) {
    this.db = options.db;
    this.identity = options.identity;
    this.clock = options.clock ?? systemClock;
    this.observer = options.observer;
    this.store = new TlogStore(this.db);
    this.heads = new HeadSigner({
      db: this.db,
      store: this.store,
      signer: options.identity.signer,
      origin: options.origin,
      stateFile: options.signedHeadFile,
      clock: this.clock,
    });
    this.fork = detectFork(this.heads);
    // A forked log is only read: nothing is signed or written, reads of heads answer 503 (assertHealthy).
    if (!this.fork) this.heads.publishCurrent();
    this.signedRow = new SignedHeadRow(this.db);
    const publication = new HeadPublication(() => this.heads.publish());
    this.sequencer = new WriteSequencer(this.db, {
      resync: () => this.store.reload(),
      ...(this.observer ? { observer: this.observer } : {}),
      beforeCommit: () => this.heads.recordCommitted(),
      published: () => publication.covering(),
    });
  }

  /** Throws the 503 every write and every signature gets while the log is forked. */
  assertHealthy(): void {
    if (this.fork) {
      throw new RegistryError("server_error", "the log does not extend the largest head this registry signed; see the server log", {
        status: 503,
      });
    }
  }

  /** Runs a write job through the sequencer once the registry is known to be healthy. */
  write<T>(job: () => T): Promise<T> {
    this.assertHealthy();
    return this.sequencer.submit(job);
  }

  /** For the metrics gauge: how stale the newest signed head is (null before the first signature). */
  secondsSinceSignedHead(): number | null {
    const signedAt = this.signedRow.signedAt();
    return signedAt === null ? null : Math.max(0, this.clock() - signedAt);
  }

  close(): void {
    this.heads.close();
    this.db.close();
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
