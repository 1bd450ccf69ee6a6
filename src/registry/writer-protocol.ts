/**
 * The messages between the main thread and the writer thread. Facts go over
 * as one JSON text, at most one message in flight, and each is answered once
 * after the commit that holds its facts, so the cost of a hand-off is shared
 * by every fact in it.
 */
import { ERROR_STATUS, RegistryError, type ErrorCode } from "../core/errors.js";

/** What the writer thread is started with. */
export interface WriterData {
  file: string;
  synchronous: "FULL" | "NORMAL";
}

/** Main → writer: facts, a JSON array of WriteFact, sent only once the previous ones are answered; or the request to close once everything is answered. */
export type ToWriter = { facts: string } | { close: true };

/** An error as it crosses the thread boundary: enough to rebuild the v1 answer and the server log's cause. */
export interface WireError {
  name: string;
  message: string;
  code?: string;
  status?: number;
  /** What a 503 was caused by (the SQLite error of a failed commit), for the server log. */
  cause?: WireError;
}

/** Writer → main, once per message of facts, after the commit that holds them. */
export interface WriterAnswer {
  /** The committed tree: its size and its peaks, largest first, concatenated. */
  size: number;
  peaks: Uint8Array;
  /** Per fact, its leaf index; NaN where `errors` holds its error. */
  indexes: Float64Array;
  errors: [number, WireError][];
  /** Every transaction since the last answer, as (jobs, seconds, ok 1/0) triples. */
  commits: number[];
}

export type FromWriter = { ready: true } | WriterAnswer;

export function toWire(error: unknown, depth = 0): WireError {
  if (!(error instanceof Error)) return { name: "Error", message: String(error) };
  const cause = error.cause !== undefined && depth < 1 ? { cause: toWire(error.cause, depth + 1) } : {};
  if (error instanceof RegistryError) return { name: error.name, message: error.message, code: error.code, status: error.status, ...cause };
  const code = (error as { code?: unknown }).code;
  return { name: error.name, message: error.message, ...(typeof code === "string" ? { code } : {}), ...cause };
}

/** A RegistryError again when it was one (its v1 code and status); otherwise an Error carrying the name and code (SQLite's), as the log shows them. */
export function fromWire(wire: WireError): Error {
  const cause = wire.cause === undefined ? {} : { cause: fromWire(wire.cause) };
  if (wire.name === "RegistryError" && wire.code !== undefined && wire.code in ERROR_STATUS) {
    return new RegistryError(wire.code as ErrorCode, wire.message, { ...(wire.status === undefined ? {} : { status: wire.status }), ...cause });
  }
  const error = new Error(wire.message, cause);
  error.name = wire.name;
  if (wire.code !== undefined) Object.assign(error, { code: wire.code });
  return error;
}
