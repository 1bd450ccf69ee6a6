/**
 * The journal's fsync, off the thread that commits. The journal commits with
 * synchronous=NORMAL (SQLite writes the WAL frames and returns without an
 * fsync), then asks for `sync()`: an fdatasync of the WAL file on the libuv
 * pool. An append is acknowledged, and its query answered, only when an
 * fdatasync that began after its commit has returned, so it is as durable as
 * with synchronous=FULL (which syncs the WAL at each commit; SQLite itself
 * still syncs the WAL before a checkpoint and the database after it). Meanwhile
 * the thread goes on committing the next appends, and one later fdatasync
 * covers all of them: the commit and the disk work overlap instead of taking
 * turns. At most one fdatasync runs at a time, and every caller that arrives
 * while one runs shares the next.
 */
import fs from "node:fs";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { syncDirectory } from "../core/durable-file.js";

/** fs.fdatasync's shape; a test passes one that holds the call, to see what waits for it. */
export type Fdatasync = (fd: number, callback: (error: NodeJS.ErrnoException | null) => void) => void;

export interface WalSyncOptions {
  /** Told the duration of every fdatasync. */
  observe?: ((seconds: number) => void) | undefined;
  /** Default fs.fdatasync (on the libuv pool). */
  fdatasync?: Fdatasync | undefined;
}

export class WalSync {
  /** Commits made so far, as told by `committed()`. */
  private commits = 0;
  private running: { done: Promise<void>; covers: number } | null = null;
  private next: Promise<void> | null = null;

  private readonly observe: (seconds: number) => void;
  private readonly fdatasync: Fdatasync;

  constructor(
    private readonly fd: number,
    options: WalSyncOptions = {},
  ) {
    this.observe = options.observe ?? (() => {});
    this.fdatasync = options.fdatasync ?? fs.fdatasync;
  }

  /**
   * Opens the WAL of an SQLite database in WAL mode, which the database's
   * connection has already created, and makes its directory entry durable:
   * SQLite syncs the directory only at its first checkpoint, so until then a
   * power cut could lose the whole file with the answered queries in it.
   */
  static open(databaseFile: string, options?: WalSyncOptions): WalSync {
    const fd = fs.openSync(`${databaseFile}-wal`, "r+");
    syncDirectory(path.dirname(databaseFile));
    return new WalSync(fd, options);
  }

  /** A transaction was committed: an fdatasync that begins from now on covers it. */
  committed(): void {
    this.commits++;
  }

  /** Resolves once an fdatasync that began after the latest commit has returned; rejects when it failed. */
  sync(): Promise<void> {
    const running = this.running;
    if (running === null) return this.start();
    if (running.covers >= this.commits) return running.done;
    // The one running began before that commit: wait for the next, shared with everyone who asks meanwhile.
    this.next ??= running.done.then(
      () => this.start(),
      () => this.start(),
    );
    return this.next;
  }

  /** Waits for the fdatasyncs asked for, then closes the file. */
  async close(): Promise<void> {
    while (this.running !== null || this.next !== null) await (this.next ?? this.running?.done)?.catch(() => {});
    fs.closeSync(this.fd);
  }

  private start(): Promise<void> {
    this.next = null;
    const started = performance.now();
    const covers = this.commits;
    const done = new Promise<void>((resolve, reject) =>
      this.fdatasync(this.fd, (error) => {
        if (this.running?.done === done) this.running = null;
        this.observe((performance.now() - started) / 1000);
        if (error) reject(error);
        else resolve();
      }),
    );
    this.running = { done, covers };
    return done;
  }
}
