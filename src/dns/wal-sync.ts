/**
 * The journal's fsync. The journal commits with synchronous=NORMAL (SQLite
 * writes the WAL frames and returns without an fsync); right after each group
 * commit, before any of its appends is acknowledged, the thread that
 * committed fdatasyncs the WAL, so every acknowledged append is as durable as
 * with synchronous=FULL (SQLite itself still syncs the WAL before a
 * checkpoint and the database after it). The fdatasync blocks that thread
 * for as long as the disk takes, and nothing else: an fdatasync on the libuv
 * pool instead cost every answer two wake-ups (the pool thread's, then this
 * thread's for the completion), each a wait for a core on a busy machine,
 * and more CPU per answer than the commit and the fsync together saved by
 * overlapping (docs/DNS-BRIDGE.md#figures).
 */
import fs from "node:fs";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { syncDirectory } from "../core/durable-file.js";

/** fs.fdatasyncSync's shape; a test passes one that looks at what is committed and acknowledged when it runs, or fails. */
export type Fdatasync = (fd: number) => void;

export interface WalSyncOptions {
  /** Told the duration of every fdatasync. */
  observe?: ((seconds: number) => void) | undefined;
  /** Default fs.fdatasyncSync. */
  fdatasync?: Fdatasync | undefined;
}

export class WalSync {
  /** Commits made so far, as told by `committed()`. */
  private commits = 0;
  /** Commits covered by the latest fdatasync that returned. */
  private synced = 0;
  /**
   * Set by the first fdatasync that fails, for good. After a failed fdatasync
   * Linux may have dropped the WAL pages it was to write and still report the
   * next one as a success, and SQLite's recovery stops at the first frame
   * that did not reach the disk: a later commit "synced" behind it would be
   * lost after a crash though its query was answered. So nothing more is
   * acknowledged until a restart, whose recovery reads what the disk holds.
   */
  private broken: Error | null = null;

  private readonly observe: (seconds: number) => void;
  private readonly fdatasync: Fdatasync;

  constructor(
    private readonly fd: number,
    options: WalSyncOptions = {},
  ) {
    this.observe = options.observe ?? (() => {});
    this.fdatasync = options.fdatasync ?? fs.fdatasyncSync;
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

  /** A transaction was committed: the next fdatasync covers it. */
  committed(): void {
    this.commits++;
  }

  /**
   * Returns once every commit made so far is on disk: at once when an
   * fdatasync since the latest commit returned (the other appends of one
   * group commit share the first one's), else after an fdatasync of its own.
   * Throws once an fdatasync has failed, then and on every later call.
   */
  sync(): void {
    if (this.broken !== null) throw this.broken;
    if (this.synced === this.commits) return;
    const covers = this.commits;
    const started = performance.now();
    try {
      this.fdatasync(this.fd);
    } catch (error) {
      this.broken = new Error(
        `the journal's WAL could not be made durable (fdatasync: ${error instanceof Error ? error.message : String(error)}); ` +
          "beacon queries are answered SERVFAIL until the bridge is restarted",
        { cause: error },
      );
      throw this.broken;
    } finally {
      this.observe((performance.now() - started) / 1000);
    }
    this.synced = covers;
  }

  /** The error every sync throws since an fdatasync failed; null while none has. */
  get failure(): Error | null {
    return this.broken;
  }

  close(): void {
    fs.closeSync(this.fd);
  }
}
