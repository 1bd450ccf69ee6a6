/**
 * Publishes heads behind the write path: after each commit the sequencer
 * calls `committed()`, which starts a publication, or while one runs queues
 * the next (one at most), which covers every commit that lands meanwhile. No
 * write waits for it: a write is acknowledged once its commit is durable. A
 * read that needs a size the published head does not cover yet waits for
 * `inFlight()` instead, and never starts one. A publication that fails is
 * reported (`failed`) and the next commit starts another.
 */
import { performance } from "node:perf_hooks";

export class HeadPublication {
  /** Settles when the running publication ends; null when none runs. */
  private running: Promise<void> | null = null;
  private following: Deferred | null = null;

  /** `publish` signs and persists the committed tree; its synchronous part reads the tree. */
  constructor(
    private readonly publish: () => Promise<void>,
    private readonly observer: PublicationObserver,
  ) {}

  /** After a commit: makes sure a publication that starts after it will run. */
  committed(): void {
    if (this.running === null) this.start(deferred());
    else this.following ??= deferred();
  }

  /**
   * The publication that covers everything committed so far (the queued one,
   * else the running one), or null when none is under way. It never rejects:
   * it settles once that publication has ended, published or failed.
   */
  inFlight(): Promise<void> | null {
    return this.following?.promise ?? this.running;
  }

  private start(ended: Deferred): void {
    this.running = ended.promise;
    const started = performance.now();
    let publishing: Promise<void>;
    try {
      publishing = this.publish();
    } catch (error) {
      publishing = Promise.reject(error);
    }
    publishing
      .then(
        () => this.observer.published((performance.now() - started) / 1000),
        (error: unknown) => this.observer.failed(error),
      )
      .finally(() => {
        const next = this.following;
        this.following = null;
        this.running = null;
        if (next) this.start(next);
        ended.resolve();
      });
  }
}

/** Told how each publication ended (the registry's log line and metric). */
export interface PublicationObserver {
  /** It took `seconds`, from its start to the head being served. */
  published(seconds: number): void;
  failed(error: unknown): void;
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
