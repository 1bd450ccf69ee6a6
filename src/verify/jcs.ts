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
  return serialize(value, "$", new Map());
}

export function canonicalBytes(value: unknown): Uint8Array {
  return utf8(canonicalize(value));
}

/**
 * The members of a plain object as canonical text, `"key":value` each beside
 * its key, in RFC 8785 order: joined with "," inside braces they are the
 * object's canonical JSON, and a member put in its place among them makes
 * the canonical JSON of the larger object without serializing the rest again.
 */
export function canonicalMembers(value: Record<string, unknown>): Array<[key: string, text: string]> {
  const seen = new Map<object, string>();
  return sortedKeys(value, "$").map((key) => [key, `${serializeString(key, "$")}:${serialize(value[key], `$.${key}`, seen)}`]);
}

/**
 * `seen` holds the text of every object and array already serialized in this
 * call: a value referenced twice (an evidence bundle's `proof` and
 * `inclusion` are one object) is serialized once. Nothing changes a value
 * while it is being serialized, so its text is the same at both places.
 */
function serialize(value: unknown, path: string, seen: Map<object, string>): string {
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
    case "object": {
      if (value === null) return "null";
      let text = seen.get(value);
      if (text !== undefined) return text;
      text = Array.isArray(value) ? serializeArray(value, path, seen) : serializeObject(value, path, seen);
      seen.set(value, text);
      return text;
    }
    default:
      throw new CanonicalJsonError(`${path}: ${typeof value} is not a JSON value`);
  }
}

function serializeArray(value: readonly unknown[], path: string, seen: Map<object, string>): string {
  let out = "[";
  for (let i = 0; i < value.length; i++) {
    if (i > 0) out += ",";
    out += serialize(value[i], `${path}[${i}]`, seen);
  }
  return out + "]";
}

function serializeObject(value: object, path: string, seen: Map<object, string>): string {
  const keys = sortedKeys(value, path);
  let out = "{";
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]!;
    if (i > 0) out += ",";
    out += serializeString(key, path) + ":" + serialize((value as Record<string, unknown>)[key], `${path}.${key}`, seen);
  }
  return out + "}";
}

function sortedKeys(value: object, path: string): string[] {
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) {
    throw new CanonicalJsonError(`${path}: only plain objects are JSON objects`);
  }
  // Array.prototype.sort compares UTF-16 code units, which is exactly RFC 8785's key order.
  return Object.keys(value).sort();
}

/** What JSON.stringify escapes in a well-formed string (and RFC 8785 too): quote, backslash, U+0000..U+001F. */
const ESCAPED = /["\\\u0000-\u001f]/;

function serializeString(value: string, path: string): string {
  if (!value.isWellFormed()) throw new CanonicalJsonError(`${path}: string contains a lone surrogate`);
  // For well-formed strings JSON.stringify escapes exactly what RFC 8785 escapes,
  // with the short forms where they exist; most strings (hashes, ids) need none.
  return ESCAPED.test(value) ? JSON.stringify(value) : `"${value}"`;
}
