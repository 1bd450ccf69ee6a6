/**
 * Structured logging through pino: one JSON object per line
 * (`{"level","time",...fields,"msg"}`), or pino-pretty's readable lines when
 * the stream is a terminal. Every line's fields go through `safeFields`
 * (log-fields.ts) first, so credentials never reach the output in either form.
 */
import { pino, type DestinationStream } from "pino";
import { prettyFactory } from "pino-pretty";
import { safeFields, type LogFields } from "./log-fields.js";

export { REDACTED, type LogFields } from "./log-fields.js";

export type LogLevel = "debug" | "info" | "warn" | "error";

export interface Logger {
  readonly level: LogLevel;
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
}

export interface LoggerOptions {
  level: LogLevel;
  /** Defaults to stdout. */
  stream?: { write(line: string): unknown; isTTY?: boolean };
  /** Readable lines instead of JSON; by default when the stream is a terminal. */
  pretty?: boolean;
}

export function createLogger(options: LoggerOptions): Logger {
  const stream = options.stream ?? process.stdout;
  const withStacks = options.level === "debug";
  const readable = options.pretty ?? stream.isTTY === true;
  const destination: DestinationStream = readable ? prettyLines(stream) : (stream as DestinationStream);
  const log = pino(
    {
      level: options.level,
      base: null,
      messageKey: "msg",
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: {
        level: (label) => ({ level: label }),
        log: (fields) => safeFields(fields, withStacks),
      },
    },
    destination,
  );
  return {
    level: options.level,
    debug: (msg, fields) => log.debug(fields ?? {}, msg),
    info: (msg, fields) => log.info(fields ?? {}, msg),
    warn: (msg, fields) => log.warn(fields ?? {}, msg),
    error: (msg, fields) => log.error(fields ?? {}, msg),
  };
}

/** pino-pretty in the writing thread, line by line: a log line is on the terminal before the call returns, as with JSON. */
function prettyLines(stream: { write(line: string): unknown; isTTY?: boolean }): DestinationStream {
  const prettify = prettyFactory({ colorize: stream.isTTY === true, translateTime: "SYS:HH:MM:ss.l" });
  return { write: (line: string) => stream.write(prettify(line)) };
}
