/**
 * The SQLite write backend: a writer thread (writer-worker.ts) owns the write
 * connection, the sequencer and the commit; this side hands it facts and
 * answers their callers. One message is in flight at a time: the facts
 * recorded while the thread commits wait here and go over together as soon
 * as it answers, so each commit costs one message each way however the
 * requests arrived. Each message is answered once, after its commit, with the
 * tree that commit left, which is reported (`committed`) before any of its
 * facts is answered: a caller told its leaf index can read it at once.
 *
 * If the thread dies, every fact it held and every later one gets a 503
 * (`failed`); a fact may have been committed without its caller being told,
 * as with any crash, but nothing answered is lost.
 */
import { once } from "node:events";
import { Worker } from "node:worker_threads";
import { EndOfTurn } from "../core/end-of-turn.js";
import { serverError, type RegistryError } from "../core/errors.js";
import { HASH_SIZE } from "../tlog/merkle.js";
import type { WriteBackend, WriteBackendEvents } from "./write-backend.js";
import type { WriteFact } from "./write-facts.js";
import { fromWire, type FromWriter, type ToWriter, type WriterAnswer, type WriterData } from "./writer-protocol.js";

const WORKER_MODULE = new URL("./writer-worker.js", import.meta.url);
/** As in core/verify-pool.ts: a worker is given the process's flags unless the main module came from `--input-type`. */
const WORKER_EXEC_ARGV = process.execArgv.some((arg) => arg.startsWith("--input-type"))
  ? { execArgv: process.execArgv.filter((arg) => !arg.startsWith("--input-type")) }
  : {};

interface Waiter {
  resolve: (index: number) => void;
  reject: (error: unknown) => void;
}

export class ThreadWriter implements WriteBackend {
  /** Resolves once the thread has opened the database; rejects if it could not. */
  readonly started: Promise<void>;
  private readonly worker: Worker;
  private outgoing: WriteFact[] = [];
  private waiting: Waiter[] = [];
  /** The callers of the facts the thread holds, in their order; null while it holds none. */
  private inFlight: Waiter[] | null = null;
  /** Hands over what the turn recorded, at its end. */
  private readonly handOverAtEndOfTurn = new EndOfTurn(() => this.handOver());
  private ready = false;
  private closing = false;
  private failure: RegistryError | null = null;
  private idle: (() => void)[] = [];

  constructor(
    data: WriterData,
    private readonly events: WriteBackendEvents,
  ) {
    this.worker = new Worker(WORKER_MODULE, { ...WORKER_EXEC_ARGV, workerData: data });
    this.started = new Promise((resolve, reject) => {
      this.worker.once("message", (message: FromWriter) => {
        if ("ready" in message) resolve();
        this.worker.on("message", (answer: WriterAnswer) => this.answered(answer));
        this.ready = true;
        this.holdProcess();
      });
      this.worker.once("exit", () => reject(this.failure ?? serverError("the writer thread stopped before it was ready", { status: 503 })));
    });
    this.started.catch(() => {});
    this.worker.on("error", (error) => this.fail(error));
    this.worker.on("messageerror", (error) => this.fail(error));
    this.worker.on("exit", (code) => {
      if (!this.closing || this.inFlight !== null) this.fail(new Error(`the writer thread exited with code ${code}`));
    });
  }

  record(fact: WriteFact): Promise<number> {
    if (this.failure !== null) return Promise.reject(this.failure);
    if (this.closing) return Promise.reject(serverError("the registry is closing", { status: 503 }));
    return new Promise<number>((resolve, reject) => {
      this.outgoing.push(fact);
      this.waiting.push({ resolve, reject });
      this.handOverAtEndOfTurn.request();
    });
  }

  drain(): Promise<void> {
    if (this.settled()) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }

  async close(): Promise<void> {
    await this.drain();
    if (this.closing) return;
    this.closing = true;
    if (this.failure !== null) return;
    const exited = once(this.worker, "exit");
    this.holdProcess();
    this.worker.postMessage({ close: true } satisfies ToWriter);
    await exited;
  }

  /** Whether the thread is gone, so that every write is refused with a 503. */
  get failed(): boolean {
    return this.failure !== null;
  }

  /** Stops the thread at once, as a crash would: what it held is answered 503. The registry's own tests use it. */
  async terminate(): Promise<void> {
    await this.worker.terminate();
  }

  /** At the end of a turn, or when the thread answers: every fact recorded meanwhile, in one message, unless the thread still holds some. */
  private handOver(): void {
    if (this.outgoing.length === 0 || this.inFlight !== null) return;
    const facts = JSON.stringify(this.outgoing);
    this.inFlight = this.waiting;
    this.outgoing = [];
    this.waiting = [];
    this.worker.postMessage({ facts } satisfies ToWriter);
    this.holdProcess();
  }

  private answered(answer: WriterAnswer): void {
    const waiters = this.inFlight;
    if (waiters === null) return;
    this.inFlight = null;
    // The next facts go first: the thread commits them while this turn answers these.
    this.handOver();
    const { commits } = answer;
    for (let i = 0; i < commits.length; i += 3) this.events.observeCommit(commits[i]!, commits[i + 1]!, commits[i + 2] === 1);
    const bytes = Buffer.from(answer.peaks.buffer, answer.peaks.byteOffset, answer.peaks.byteLength);
    const peaks: Buffer[] = [];
    for (let at = 0; at < bytes.length; at += HASH_SIZE) peaks.push(bytes.subarray(at, at + HASH_SIZE));
    this.events.committed({ size: answer.size, peaks });
    const errors = new Map(answer.errors);
    waiters.forEach((waiter, i) => {
      const index = answer.indexes[i]!;
      if (!Number.isNaN(index)) waiter.resolve(index);
      else waiter.reject(fromWire(errors.get(i)!));
    });
    this.wakeIdle();
  }

  /** The thread is gone: every fact it held or will be given is answered 503, once. */
  private fail(error: unknown): void {
    if (this.failure !== null) return;
    this.failure = serverError("the writer thread stopped; writes are refused until the registry restarts", { status: 503, cause: error });
    const waiters = (this.inFlight ?? []).concat(this.waiting);
    this.inFlight = null;
    this.outgoing = [];
    this.waiting = [];
    for (const waiter of waiters) waiter.reject(this.failure);
    this.events.failed(error);
    this.wakeIdle();
  }

  private settled(): boolean {
    return this.inFlight === null && this.outgoing.length === 0;
  }

  /** An idle writer does not keep the process alive; one starting, holding facts or closing does. */
  private holdProcess(): void {
    if (!this.ready || this.closing || !this.settled()) this.worker.ref();
    else this.worker.unref();
  }

  private wakeIdle(): void {
    if (!this.settled()) return;
    this.holdProcess();
    const idle = this.idle;
    this.idle = [];
    for (const resolve of idle) resolve();
  }
}
