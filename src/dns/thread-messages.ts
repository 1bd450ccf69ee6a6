/**
 * What the bridge's two threads say to each other. The main thread answers
 * DNS and owns the SQLite journal; the sender thread talks to the registry.
 * Everything crosses as plain data (structured clone): no thread shares an
 * object, a socket or a database connection with another.
 */
import type { MessagePort } from "node:worker_threads";
import { createLogger, type Logger, type LogLevel } from "../log.js";
import type { BackoffPolicy } from "./backoff.js";
import type { JournalEntry } from "./journal.js";
import type { CounterName } from "./metrics.js";

export interface SenderThreadData {
  registryUrl: string;
  secret: string | null;
  window: number;
  batchReprobeMs: number;
  timeoutMs: number;
  backoff: BackoffPolicy;
  logLevel: LogLevel;
  /** The sender's end of the channel to the journal (on the main thread). */
  journalPort: MessagePort;
}

/** A log line already formatted (and redacted) by the thread's own logger; the main thread writes it. */
export interface LogMessage {
  type: "log";
  line: string;
}

export type ToSenderThread = { type: "stop" };

export type FromSenderThread = { type: "count"; name: CounterName; by: number } | LogMessage;

export type Refusal = { entry: JournalEntry; status: number; answer: string };

/** Sender → the journal on the main thread, over their own channel. */
export type JournalRequest =
  | { type: "oldest"; request: number; limit: number }
  | { type: "settle"; request: number; delivered: JournalEntry[]; refused: Refusal[] };

/** The journal → sender thread: answers to requests, and a nudge when new events are journaled while the sender waits for some. */
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
