/**
 * What the bridge's three threads say to each other. The main thread answers
 * DNS; the journal thread owns the SQLite journal; the sender thread talks to
 * the registry. Everything crosses as plain data (structured clone): no
 * thread shares an object, a socket or a database connection with another.
 */
import type { MessagePort } from "node:worker_threads";
import { createLogger, type Logger, type LogLevel } from "../log.js";
import type { BackoffPolicy } from "./backoff.js";
import type { JournalEntry, NewEvent } from "./journal.js";
import type { CounterName } from "./metrics.js";
import type { Synchronous } from "../registry/database.js";

export interface JournalThreadData {
  dataDir: string;
  synchronous: Synchronous;
  /** The journal's end of the channel to the sender thread. */
  senderPort: MessagePort;
}

export interface SenderThreadData {
  registryUrl: string;
  secret: string | null;
  window: number;
  batchReprobeMs: number;
  timeoutMs: number;
  backoff: BackoffPolicy;
  logLevel: LogLevel;
  /** The sender's end of the channel to the journal thread. */
  journalPort: MessagePort;
}

/** A log line already formatted (and redacted) by the thread's own logger; the main thread writes it. */
export interface LogMessage {
  type: "log";
  line: string;
}

export type ToJournalThread =
  | { type: "append"; batch: number; events: NewEvent[] }
  /** A restarted sender thread's end of a new channel; the old one is dropped. */
  | { type: "sender"; port: MessagePort }
  | { type: "stop" };

export type FromJournalThread =
  | { type: "ready"; pending: number }
  /**
   * These batches are durable (committed, and with FULL their fsync done);
   * `commitSeconds` and `syncSeconds`: the duration of each transaction and
   * of each fsync of the WAL since the previous message of this kind.
   */
  | { type: "appended"; batches: Appended[]; commitSeconds: number[]; syncSeconds: number[] }
  /** Events that left the journal (delivered or dead-lettered), once that is committed. */
  | { type: "settled"; events: number };

/** One batch of appends done: `failures` lists the events it could not write (usually none). */
export interface Appended {
  batch: number;
  failures: { index: number; message: string }[];
}

export type ToSenderThread = { type: "stop" };

export type FromSenderThread = { type: "count"; name: CounterName; by: number } | LogMessage;

export type Refusal = { entry: JournalEntry; status: number; answer: string };

/** Sender → journal thread, over their own channel. */
export type JournalRequest =
  | { type: "oldest"; request: number; limit: number }
  | { type: "settle"; request: number; delivered: JournalEntry[]; refused: Refusal[] };

/** Journal → sender thread: answers to requests, and a nudge when new events are committed while the sender waits for some. */
export type JournalReply =
  | { type: "entries"; request: number; entries: JournalEntry[] }
  | { type: "settled"; request: number }
  | { type: "failed"; request: number; message: string }
  | { type: "journaled" };

/** A worker's logger: lines are formatted and redacted where they are logged, then written by the main thread. */
export function threadLogger(level: LogLevel, post: (message: LogMessage) => void): Logger {
  return createLogger({ level, stream: { write: (line: string) => post({ type: "log", line }) } });
}

/** Writes a worker's log line through the main thread's logger, keeping the worker's level, message and fields. */
export function relayLog(logger: Logger, line: string): void {
  // The worker's `time` stays among the fields, where the logger ignores it as reserved.
  const { level, msg, ...fields } = JSON.parse(line) as { level: LogLevel; msg: string };
  logger[level](msg, fields);
}
