/**
 * Coalesces head publications: at most one runs at a time, and every commit
 * that lands meanwhile is covered by the next one, which starts when the
 * running one ends. A write is acknowledged once a publication that started
 * after its commit has finished, so an acknowledged write is always covered
 * by the head, the checkpoint and the proofs reads serve.
 */
export class HeadPublication {
  private running = false;
  private following: Deferred | null = null;

  /** `publish` signs and persists the committed tree; its synchronous part reads the tree. */
  constructor(private readonly publish: () => Promise<void>) {}

  /** Resolves once a publication covering everything committed before this call is served. */
  covering(): Promise<void> {
    this.following ??= deferred();
    const covered = this.following.promise;
    if (!this.running) this.start();
    return covered;
  }

  private start(): void {
    const waiting = this.following!;
    this.following = null;
    this.running = true;
    let started: Promise<void>;
    try {
      started = this.publish();
    } catch (error) {
      started = Promise.reject(error);
    }
    started.then(waiting.resolve, waiting.reject).finally(() => {
      this.running = false;
      if (this.following) this.start();
    });
  }
}

interface Deferred {
  promise: Promise<void>;
  resolve: () => void;
  reject: (error: unknown) => void;
}

function deferred(): Deferred {
  let resolve!: () => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}
