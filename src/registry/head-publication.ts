/**
 * Publishes heads behind the write path: after each commit the sequencer
 * calls `committed()`, which queues a publication covering it. No write waits
 * for it: a write is acknowledged once its commit is durable.
 *
 * At most one publication runs at a time, and at most one more is queued,
 * covering every commit that lands meanwhile. A publication costs about half
 * a millisecond of CPU (two signatures and a state-file write), so while
 * nobody waits for it the queued one starts no sooner than `gapMs` after the
 * previous start: under a stream of writes that no one reads, heads are
 * published a few dozen times a second rather than after every commit. A
 * read that needs a newer head waits for `covering()`, which starts the
 * queued publication at once instead (or as soon as the running one ends):
 * the read brings it forward, the commit queued it. An idle registry
 * publishes at once after a commit. A publication that fails is reported
 * (`failed`) and the next commit queues another.
 */
import { performance } from "node:perf_hooks";

export interface HeadPublicationOptions {
  /** `publish` signs and persists the committed tree; its synchronous part reads the tree. */
  publish: () => Promise<void>;
  observer: PublicationObserver;
  /** Least time between the starts of two publications while no read waits for the second. */
  gapMs: number;
}

/** Told how each publication ended (the registry's log line and metrics). */
export interface PublicationObserver {
  /** It took `seconds`, from its start to the head being served. */
  published(seconds: number): void;
  failed(error: unknown): void;
}

export class HeadPublication {
  /** Settles when the running publication ends; null when none runs. */
  private running: Promise<void> | null = null;
  /** The queued publication, which covers every commit since the running one started. */
  private following: Deferred | null = null;
  /** A read waits for the queued one: it starts as soon as the running one ends. */
  private wanted = false;
  private timer: NodeJS.Timeout | null = null;
  private lastStart = Number.NEGATIVE_INFINITY;

  constructor(private readonly options: HeadPublicationOptions) {}

  /** After a commit: queues a publication that starts after it. */
  committed(): void {
    this.following ??= deferred();
    if (this.running === null) this.schedule();
  }

  /**
   * The publication that covers everything committed so far (the queued one,
   * else the running one), or null when none is under way. A queued one that
   * waited for its time starts now. It never rejects: it settles once that
   * publication has ended, published or failed.
   */
  covering(): Promise<void> | null {
    const following = this.following;
    if (following === null) return this.running;
    if (this.running === null) this.startFollowing();
    else this.wanted = true;
    return following.promise;
  }

  /** Drops a queued publication's timer (the registry is closing). */
  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  /** With none running: starts the queued publication now, or when the gap since the last start is over. */
  private schedule(): void {
    const wait = this.lastStart + this.options.gapMs - performance.now();
    if (wait <= 0) {
      this.startFollowing();
      return;
    }
    this.timer ??= setTimeout(() => {
      this.timer = null;
      if (this.running === null && this.following !== null) this.startFollowing();
    }, wait);
    // A queued head does not keep the process alive: shutdown publishes it (Registry.drain).
    this.timer.unref();
  }

  private startFollowing(): void {
    this.stop();
    const ended = this.following!;
    this.following = null;
    this.wanted = false;
    this.start(ended);
  }

  private start(ended: Deferred): void {
    this.running = ended.promise;
    const started = performance.now();
    this.lastStart = started;
    let publishing: Promise<void>;
    try {
      publishing = this.options.publish();
    } catch (error) {
      publishing = Promise.reject(error);
    }
    publishing
      .then(
        () => this.options.observer.published((performance.now() - started) / 1000),
        (error: unknown) => this.options.observer.failed(error),
      )
      .finally(() => {
        this.running = null;
        if (this.following !== null) {
          if (this.wanted) this.startFollowing();
          else this.schedule();
        }
        ended.resolve();
      });
  }
}

interface Deferred {
  promise: Promise<void>;
  resolve: () => void;
}

function deferred(): Deferred {
  let resolve!: () => void;
  const promise = new Promise<void>((res) => (resolve = res));
  return { promise, resolve };
}
