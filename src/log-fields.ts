/**
 * What makes a log line's fields safe to write: anything under a key that
 * looks like a credential is replaced, at any depth, so a careless
 * `log.info("x", {headers})` cannot leak an operator token into a log
 * shipper; errors become name, message and code (stacks at debug only);
 * bytes, bigints, dates and cycles become plain JSON values.
 */
export type LogFields = Record<string, unknown>;

const SECRET_KEY = /token|secret|priv|password|authorization|cookie/i;
/** Written by the logger itself; a field of the same name would forge them. */
const RESERVED = new Set(["time", "level", "msg"]);
const MAX_DEPTH = 8;
const MAX_INLINE_BYTES = 64;

export const REDACTED = "[redacted]";

/** A JSON-safe copy of a line's fields, credential-like keys redacted, reserved keys dropped. */
export function safeFields(fields: LogFields, withStacks: boolean): LogFields {
  const out: LogFields = {};
  for (const [key, value] of Object.entries(fields)) {
    if (RESERVED.has(key)) continue;
    out[key] = SECRET_KEY.test(key) ? REDACTED : sanitize(value, withStacks, 0, new WeakSet());
  }
  return out;
}

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
