/**
 * The write boundary: everything the use-cases and the HTTP layer need from
 * storage to record something. A backend takes facts (write-facts.ts), records
 * each durably and in order, and answers each with its leaf index or its own
 * error; after every commit it reports the tree it left, so the reads (on
 * their own connection) and the head publication follow it. The writer
 * thread over SQLite (writer-thread.ts) is one; a PostgreSQL backend would be
 * another, with nothing above this file changing (docs/ARCHITECTURE.md#the-write-boundary).
 */
import type { WriteFact } from "./write-facts.js";

/** The tree a commit left: its size and the right edge (the peaks, largest first), which is all reads need to prove at that size. */
export interface CommittedTree {
  size: number;
  peaks: Buffer[];
}

export interface WriteBackend {
  /**
   * Resolves with the fact's leaf index (NO_LEAF when it has none) once it is
   * durable and `committed` has been told of the tree that holds it; rejects
   * with the fact's own RegistryError when it is refused (nothing of it is
   * written), or with a 503 when it could not be committed.
   */
  record(fact: WriteFact): Promise<number>;
  /** Resolves once every fact recorded so far is committed or failed. */
  drain(): Promise<void>;
  /** Drains, then releases the backend; later records are refused with a 503. */
  close(): Promise<void>;
}

/** What a backend tells the registry, in the order it happens. */
export interface WriteBackendEvents {
  /** A commit made the tree `tree`: told before the facts it holds are answered. */
  committed(tree: CommittedTree): void;
  /** One transaction of `jobs` facts took `seconds`; `ok` false: it failed and every fact in it got a 503. */
  observeCommit(jobs: number, seconds: number, ok: boolean): void;
  /** The backend can no longer record anything (its thread died): every fact pending got a 503, and every later one does. */
  failed(error: unknown): void;
}
