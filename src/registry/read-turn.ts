/**
 * One read transaction per turn of the event loop on the read connection.
 *
 * Outside a transaction every SQLite statement opens and closes a WAL read
 * snapshot of its own (two fcntl locks and an fstat of the WAL index, about
 * 3 µs of a proof's server CPU at 1,000,000 leaves). Proofs answered in the
 * same turn share one instead: the first opens it (`enter`), and it ends once
 * the turn is over (setImmediate), so it never holds a checkpoint back or
 * hides a commit for longer than one turn.
 *
 * A snapshot must never be older than the head a read answers for: that head
 * covers at most the leaves the store counts, and `enter` starts a new
 * snapshot whenever the store has counted more since this one began (the
 * writer thread's commits are told to the store only once durable). The
 * connection also refuses to sign a head inside a transaction, so the
 * publication ends the turn's first (`end`). A transaction someone else
 * opened on the connection is left alone.
 */
import type Database from "better-sqlite3";
import { EndOfTurn } from "../core/end-of-turn.js";

export class ReadTurn {
  /** The committed size when the open transaction began; null when none of ours is open. */
  private openAt: number | null = null;
  private readonly endAtEndOfTurn = new EndOfTurn(() => this.end());
  private readonly begin: Database.Statement;
  private readonly commit: Database.Statement;

  constructor(
    private readonly db: Database.Database,
    private readonly committedSize: () => number,
  ) {
    this.begin = db.prepare("BEGIN");
    this.commit = db.prepare("COMMIT");
  }

  /** Before a read: opens this turn's transaction, or a new one when leaves were committed since it began. */
  enter(): void {
    const size = this.committedSize();
    if (this.openAt === size && this.db.inTransaction) return;
    this.end();
    if (this.db.inTransaction || !this.db.open) return;
    this.begin.run();
    this.openAt = size;
    this.endAtEndOfTurn.request();
  }

  /** Ends the open transaction, if it is ours and still open (an error may have rolled it back). */
  end(): void {
    if (this.openAt === null) return;
    this.openAt = null;
    if (this.db.open && this.db.inTransaction) this.commit.run();
  }
}
