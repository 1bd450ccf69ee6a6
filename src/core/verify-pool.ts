/**
 * Ed25519 verification on worker threads, so that the cores the event loop
 * does not use verify signatures while it serves requests (verification is
 * the largest single cost of a registration).
 *
 * Checks queued during one turn of the event loop travel to the workers as
 * one message per worker. Workers (verify-worker.ts) run `firstVerified`, the
 * very function the in-thread path runs, so both give the same answers. The
 * pool never leaves a caller waiting: a worker that crashes or stops
 * answering is replaced and its checks fail with `server_error`; a closed
 * pool, a full queue or a pool whose workers cannot start verifies in the
 * calling thread.
 *
 * A worker says when it is ready (its modules loaded, its listener set): only
 * from then on does its silence count as a stall, because loading alone can
 * take longer than a short `stallMs`. Checks held by a worker that fails
 * before it is ready were never started, so they are queued again.
 */
import os from "node:os";
import { Worker, type ResourceLimits } from "node:worker_threads";
import { serverError } from "./errors.js";
import { toHex } from "./hex.js";
import { EndOfTurn } from "./end-of-turn.js";
import { firstVerified, type SignatureCheck, type SignatureVerifier } from "./signature-check.js";
import type { BatchMessage, ReadyMessage } from "./verify-worker.js";

export interface VerifyPoolOptions {
  /** Worker threads; default one per core beyond the first, at least 1. */
  threads?: number;
  /** Checks queued or in flight beyond which new ones are verified in the calling thread. */
  maxQueued?: number;
  /** A ready worker with checks outstanding that answers nothing for this long is replaced. */
  stallMs?: number;
  /** Time a worker holding checks gets, on top of `stallMs`, to say it is ready before it is replaced. */
  startupMs?: number;
  /** The module each worker runs; tests substitute workers that misbehave. */
  workerModule?: URL;
  resourceLimits?: ResourceLimits;
  /** Told about worker failures (the checks they held have already failed or been queued again). */
  onError?: (error: unknown) => void;
}

export interface VerifyPoolStats {
  /** Checks answered by a worker. */
  pooled: number;
  /** Checks verified in the calling thread. */
  inThread: number;
  /** Checks failed because their worker failed. */
  failed: number;
  /** Workers replaced after a failure. */
  restarts: number;
}

const DEFAULT_MAX_QUEUED = 4096;
const DEFAULT_STALL_MS = 10_000;
/** Checks per message, so that answers flow back while a large backlog is still being verified. */
const MAX_BATCH = 16;
/** Batches a worker holds at once: one it verifies and one waiting, so it never idles for a round trip. */
const BATCHES_IN_FLIGHT = 2;
const DEFAULT_STARTUP_MS = 30_000;
const WORKER_MODULE = new URL("./verify-worker.js", import.meta.url);
/**
 * Workers inherit the process's flags, except how the main module was given
 * (`node --input-type=module -e …`), which says nothing about theirs. Only then
 * is execArgv passed: an explicit list is checked, and a process's flags may
 * include ones a worker refuses (Node 24's test runner gives its children
 * --stack-trace-limit and others), which would leave the pool without workers.
 */
const WORKER_EXEC_ARGV = process.execArgv.some((arg) => arg.startsWith("--input-type"))
  ? { execArgv: process.execArgv.filter((arg) => !arg.startsWith("--input-type")) }
  : {};
/** A worker that fails this many times in a row without answering once is not started again. */
const MAX_FAILED_STARTS = 3;

interface Job {
  check: SignatureCheck;
  resolve: (index: number) => void;
  reject: (error: unknown) => void;
}

interface Slot {
  worker: Worker;
  /** Batches posted and not yet answered, oldest first (a worker answers in order). */
  batches: Job[][];
  outstanding: number;
  /** Until a worker says it is ready, its start-up may be what keeps it silent. */
  ready: boolean;
  /** When the worker was last seen to move: it said it was ready, answered, or was given work while idle. */
  lastProgress: number;
  failuresInARow: number;
}

export class VerifyPool implements SignatureVerifier {
  readonly stats: VerifyPoolStats = { pooled: 0, inThread: 0, failed: 0, restarts: 0 };
  private readonly slots: Slot[] = [];
  private queued: Job[] = [];
  private closing: Promise<void> | null = null;
  /** Called by `close` when no worker holds a check any more. */
  private onIdle: (() => void) | null = null;
  private closed = false;
  /**
   * The checks asked for during one turn of the event loop leave together.
   * Sent one by one, each found the worker idle (it verifies faster than this
   * thread parses a registration), so each cost a message, a wake-up of the
   * worker and an answer to handle; and the registrations then reached the
   * writer in as many small bursts.
   */
  private readonly dispatchAtEndOfTurn = new EndOfTurn(() => this.dispatch());
  private readonly maxQueued: number;
  private readonly stallMs: number;
  private readonly startupMs: number;
  private readonly watchdog: NodeJS.Timeout;

  constructor(private readonly options: VerifyPoolOptions = {}) {
    this.maxQueued = options.maxQueued ?? DEFAULT_MAX_QUEUED;
    this.stallMs = options.stallMs ?? DEFAULT_STALL_MS;
    this.startupMs = options.startupMs ?? DEFAULT_STARTUP_MS;
    const threads = options.threads ?? Math.max(1, os.availableParallelism() - 1);
    for (let i = 0; i < threads; i++) {
      const slot = this.startSlot();
      if (slot) this.slots.push(slot);
    }
    this.watchdog = setInterval(() => this.replaceStalled(), Math.max(1, Math.floor(this.stallMs / 4)));
    this.watchdog.unref();
  }

  /** Workers currently running. */
  get threads(): number {
    return this.slots.length;
  }

  /** Checks waiting for a worker or held by one. */
  get depth(): number {
    return this.queued.length + this.outstanding();
  }

  verify(check: SignatureCheck): Promise<number> {
    if (this.closed || this.slots.length === 0 || this.depth >= this.maxQueued) {
      this.stats.inThread++;
      return Promise.resolve(firstVerified(check));
    }
    return new Promise<number>((resolve, reject) => {
      this.queued.push({ check, resolve, reject });
      this.dispatchAtEndOfTurn.request();
    });
  }

  /**
   * Stops the workers once they have answered what they hold (a stalled one
   * is still replaced by the watchdog, so this ends). From now on, and for
   * checks still queued, verification happens in the calling thread.
   */
  close(): Promise<void> {
    if (this.closing) return this.closing;
    this.closed = true;
    this.dispatch();
    this.closing = (async () => {
      while (this.outstanding() > 0) await new Promise<void>((resolve) => (this.onIdle = resolve));
      clearInterval(this.watchdog);
      await Promise.all(
        this.slots.splice(0).map((slot) => {
          slot.worker.removeAllListeners();
          slot.worker.on("error", () => {});
          return slot.worker.terminate();
        }),
      );
    })();
    return this.closing;
  }

  private outstanding(): number {
    let total = 0;
    for (const slot of this.slots) total += slot.outstanding;
    return total;
  }

  /**
   * Sends queued checks to workers that hold fewer than BATCHES_IN_FLIGHT
   * batches: what queued during the turn while the workers are idle, and while
   * they are busy what queued until one answers (each answer sends it).
   */
  private dispatch(): void {
    if (this.closed || this.slots.length === 0) {
      const jobs = this.queued.splice(0);
      this.stats.inThread += jobs.length;
      for (const job of jobs) job.resolve(firstVerified(job.check));
      return;
    }
    while (this.queued.length > 0) {
      const slot = this.readySlot();
      if (!slot) return;
      this.post(slot, this.queued.splice(0, MAX_BATCH));
    }
  }

  private readySlot(): Slot | null {
    let best: Slot | null = null;
    for (const slot of this.slots) {
      if (slot.batches.length < BATCHES_IN_FLIGHT && (!best || slot.outstanding < best.outstanding)) best = slot;
    }
    return best;
  }

  private post(slot: Slot, batch: Job[]): void {
    const message: BatchMessage = { counts: [], items: [] };
    for (const { check } of batch) {
      message.counts.push(check.messages.length);
      message.items.push(asHex(check.publicKey), asHex(check.signature));
      // A Buffer may view a larger shared pool, which would be copied whole: send exact copies.
      for (const m of check.messages) message.items.push(typeof m === "string" ? m : new Uint8Array(m));
    }
    try {
      slot.worker.postMessage(message);
    } catch (error) {
      this.stats.failed += batch.length;
      const failure = serverError("signature verification failed", { cause: error });
      for (const job of batch) job.reject(failure);
      return;
    }
    if (slot.outstanding === 0) {
      slot.lastProgress = Date.now();
      slot.worker.ref();
    }
    slot.batches.push(batch);
    slot.outstanding += batch.length;
  }

  private answered(slot: Slot, results: unknown): void {
    const batch = slot.batches.shift();
    if (!batch || !Array.isArray(results) || results.length !== batch.length) {
      if (batch) slot.batches.unshift(batch);
      this.replace(slot, new Error("a verification worker answered out of turn"));
      return;
    }
    slot.outstanding -= batch.length;
    slot.lastProgress = Date.now();
    slot.failuresInARow = 0;
    if (slot.outstanding === 0) slot.worker.unref();
    this.stats.pooled += batch.length;
    this.dispatch();
    batch.forEach((job, i) => {
      const index: unknown = results[i];
      if (typeof index === "number") job.resolve(index);
      else job.reject(serverError("signature verification failed"));
    });
    this.settled();
  }

  private startSlot(failuresInARow = 0): Slot | null {
    let worker: Worker;
    try {
      worker = new Worker(this.options.workerModule ?? WORKER_MODULE, {
        ...WORKER_EXEC_ARGV,
        ...(this.options.resourceLimits ? { resourceLimits: this.options.resourceLimits } : {}),
      });
    } catch (error) {
      this.options.onError?.(error);
      return null;
    }
    worker.unref();
    const slot: Slot = { worker, batches: [], outstanding: 0, ready: false, lastProgress: Date.now(), failuresInARow };
    worker.on("message", (message: unknown) => (slot.ready ? this.answered(slot, message) : this.readied(slot, message)));
    worker.on("error", (error) => this.replace(slot, error));
    worker.on("messageerror", (error) => this.replace(slot, error));
    worker.on("exit", (code) => this.replace(slot, new Error(`a verification worker exited with code ${code}`)));
    return slot;
  }

  private readied(slot: Slot, message: unknown): void {
    if (!isReadyMessage(message)) {
      this.replace(slot, new Error("a verification worker answered before it said it was ready"));
      return;
    }
    slot.ready = true;
    slot.lastProgress = Date.now();
  }

  /**
   * Starts another worker in place of a broken one, unless it keeps failing.
   * What a worker held when it failed fails with it; what it never started
   * (it failed before it was ready) is queued again.
   */
  private replace(slot: Slot, error: unknown): void {
    const at = this.slots.indexOf(slot);
    if (at < 0) return;
    slot.worker.removeAllListeners();
    slot.worker.on("error", () => {});
    void slot.worker.terminate();
    this.options.onError?.(error);
    const failures = slot.failuresInARow + 1;
    const next = !this.closed && failures < MAX_FAILED_STARTS ? this.startSlot(failures) : null;
    if (next) {
      this.stats.restarts++;
      this.slots[at] = next;
    } else {
      this.slots.splice(at, 1);
    }
    if (slot.ready) {
      this.failSlot(slot, serverError("signature verification failed: a verification worker stopped", { cause: error }));
    } else {
      this.queued.unshift(...slot.batches.flat());
      slot.batches = [];
      slot.outstanding = 0;
    }
    this.dispatch();
    this.settled();
  }

  private settled(): void {
    if (this.onIdle && this.outstanding() === 0) {
      const onIdle = this.onIdle;
      this.onIdle = null;
      onIdle();
    }
  }

  private failSlot(slot: Slot, failure: Error): void {
    const jobs = slot.batches.flat();
    slot.batches = [];
    slot.outstanding = 0;
    this.stats.failed += jobs.length;
    for (const job of jobs) job.reject(failure);
  }

  private replaceStalled(): void {
    const now = Date.now();
    for (const slot of [...this.slots]) {
      const allowed = slot.ready ? this.stallMs : this.stallMs + this.startupMs;
      if (slot.outstanding > 0 && now - slot.lastProgress > allowed) {
        const silence = slot.ready ? `answered nothing for ${allowed} ms` : `was not ready after ${allowed} ms`;
        this.replace(slot, new Error(`a verification worker ${silence}`));
      }
    }
  }
}

function isReadyMessage(message: unknown): message is ReadyMessage {
  return typeof message === "object" && message !== null && (message as Partial<ReadyMessage>).ready === true;
}

function asHex(value: Uint8Array | string): string {
  return typeof value === "string" ? value : toHex(value);
}
