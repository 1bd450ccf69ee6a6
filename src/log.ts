/**
 * Structured logging: one JSON object per line, `{"time","level","msg",...fields}`.
 * Anything under a key that looks like a credential is replaced before it is
 * written, at any depth, so a careless `log.info("x", {headers})` cannot leak
 * an operator token into a log shipper.
 */
export type LogLevel = "debug" | "info" | "warn" | "error";

export type LogFields = Record<string, unknown>;

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
  stream?: { write(line: string): unknown };
}

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };
const SECRET_KEY = /token|secret|priv|password|authorization|cookie/i;
const RESERVED = new Set(["time", "level", "msg"]);
const MAX_DEPTH = 8;
const MAX_INLINE_BYTES = 64;

export const REDACTED = "[redacted]";

export function createLogger(options: LoggerOptions): Logger {
  const stream = options.stream ?? process.stdout;
  const threshold = RANK[options.level];
  const withStacks = options.level === "debug";

  const write = (level: LogLevel, msg: string, fields?: LogFields) => {
    if (RANK[level] < threshold) return;
    const record: Record<string, unknown> = { time: new Date().toISOString(), level, msg };
    for (const [key, value] of Object.entries(fields ?? {})) {
      if (RESERVED.has(key)) continue;
      record[key] = SECRET_KEY.test(key) ? REDACTED : sanitize(value, withStacks, 0, new WeakSet());
    }
    stream.write(`${JSON.stringify(record)}\n`);
  };

  return {
    level: options.level,
    debug: (msg, fields) => write("debug", msg, fields),
    info: (msg, fields) => write("info", msg, fields),
    warn: (msg, fields) => write("warn", msg, fields),
    error: (msg, fields) => write("error", msg, fields),
  };
}

/** A JSON-safe copy of `value` with credential-like keys redacted and errors reduced to name and message. */
function sanitize(value: unknown, withStacks: boolean, depth: number, seen: WeakSet<object>): unknown {
  if (typeof value === "bigint") return value.toString();
  if (typeof value === "function" || typeof value === "symbol") return undefined;
  if (value === null || typeof value !== "object") return value;
  if (seen.has(value)) return "[circular]";
  if (depth >= MAX_DEPTH) return "[nested too deep]";
  seen.add(value);
  const copy = sanitizeObject(value, withStacks, depth, seen);
  seen.delete(value);
  return copy;
}

function sanitizeObject(value: object, withStacks: boolean, depth: number, seen: WeakSet<object>): unknown {
  if (value instanceof Error) {
    const out: Record<string, unknown> = { name: value.name, message: value.message };
    const code = (value as { code?: unknown }).code;
    if (typeof code === "string") out.code = code;
    if (withStacks && value.stack !== undefined) out.stack = value.stack;
    if (value.cause !== undefined) out.cause = sanitize(value.cause, withStacks, depth + 1, seen);
    return out;
  }
  if (value instanceof Uint8Array) {
    return value.byteLength <= MAX_INLINE_BYTES ? Buffer.from(value).toString("hex") : `[${value.byteLength} bytes]`;
  }
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : value.toISOString();
  if (Array.isArray(value)) return value.map((item) => sanitize(item, withStacks, depth + 1, seen));
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) {
    out[key] = SECRET_KEY.test(key) ? REDACTED : sanitize(item, withStacks, depth + 1, seen);
  }
  return out;
}
