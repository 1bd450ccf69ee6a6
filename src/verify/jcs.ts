/**
 * RFC 8785 canonical JSON ("JCS") for everything the registry signs or hashes.
 *
 * Only the JSON data model is accepted: null, booleans, strings, safe integers,
 * arrays and plain objects. Non-integer numbers are refused rather than
 * serialized, because the other registry v1 implementations refuse them and a
 * signature over a float would verify here and nowhere else.
 *
 * Browser-safe (src/verify/): the server and the inspector page sign and check
 * the same text.
 */
import { utf8 } from "./bytes.js";

export class CanonicalJsonError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CanonicalJsonError";
  }
}

export function canonicalize(value: unknown): string {
  return serialize(value, "$");
}

export function canonicalBytes(value: unknown): Uint8Array {
  return utf8(canonicalize(value));
}

function serialize(value: unknown, path: string): string {
  switch (typeof value) {
    case "string":
      return serializeString(value, path);
    case "number":
      if (!Number.isFinite(value)) throw new CanonicalJsonError(`${path}: non-finite number is not allowed`);
      if (!Number.isInteger(value)) throw new CanonicalJsonError(`${path}: non-integer number ${value} is not allowed`);
      if (!Number.isSafeInteger(value)) throw new CanonicalJsonError(`${path}: integer ${value} is outside the safe range ±(2^53-1)`);
      return Object.is(value, -0) ? "0" : String(value);
    case "boolean":
      return value ? "true" : "false";
    case "object":
      if (value === null) return "null";
      if (Array.isArray(value)) {
        let out = "[";
        for (let i = 0; i < value.length; i++) {
          if (i > 0) out += ",";
          out += serialize(value[i], `${path}[${i}]`);
        }
        return out + "]";
      }
      return serializeObject(value, path);
    default:
      throw new CanonicalJsonError(`${path}: ${typeof value} is not a JSON value`);
  }
}

function serializeObject(value: object, path: string): string {
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) {
    throw new CanonicalJsonError(`${path}: only plain objects are JSON objects`);
  }
  // Array.prototype.sort compares UTF-16 code units, which is exactly RFC 8785's key order.
  const keys = Object.keys(value).sort();
  let out = "{";
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]!;
    if (i > 0) out += ",";
    out += serializeString(key, path) + ":" + serialize((value as Record<string, unknown>)[key], `${path}.${key}`);
  }
  return out + "}";
}

function serializeString(value: string, path: string): string {
  if (!value.isWellFormed()) throw new CanonicalJsonError(`${path}: string contains a lone surrogate`);
  // For well-formed strings JSON.stringify escapes exactly what RFC 8785 escapes:
  // quote, backslash, and U+0000..U+001F with the short forms where they exist.
  return JSON.stringify(value);
}
