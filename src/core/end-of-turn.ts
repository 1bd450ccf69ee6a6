/**
 * A task run once at the end of the current turn of the event loop
 * (setImmediate), however often it is asked for during the turn: what the
 * requests of one turn share (one hand-off to the writer thread, one message
 * to a verify worker, the end of a read transaction) is done once for all of
 * them.
 */
export class EndOfTurn {
  private scheduled = false;

  constructor(private readonly task: () => void) {}

  /** Runs the task at the end of this turn, unless it is already due to. */
  request(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.task();
    });
  }
}
