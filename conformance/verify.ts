/**
 * The harness's own verifiers: RFC 8785 canonical JSON, RFC 6962 Merkle
 * proofs, Ed25519 and C2SP signed notes / checkpoints. They are written from
 * the specifications, independently of src/, so that a shared misreading
 * cannot pass both the server and its conformance test.
 */
import * as ed from "@noble/ed25519";
import { sha256 as nobleSha256, sha512 } from "@noble/hashes/sha2.js";

ed.hashes.sha512 = sha512;

export const sha256 = (data: Uint8Array): Buffer => Buffer.from(nobleSha256(data));

export class CanonicalError extends Error {}

const SHORT_ESCAPES: Record<string, string> = { "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r", '"': '\\"', "\\": "\\\\" };

function canonicalString(s: string): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const unit = s.charCodeAt(i);
    if (unit >= 0xd800 && unit <= 0xdfff) {
      const next = s.charCodeAt(i + 1);
      if (unit > 0xdbff || !(next >= 0xdc00 && next <= 0xdfff)) throw new CanonicalError("lone surrogate in a string");
      out += s[i]! + s[i + 1]!;
      i++;
      continue;
    }
    const ch = s[i]!;
    const short = SHORT_ESCAPES[ch];
    if (short) out += short;
    else if (unit < 0x20) out += "\\u" + unit.toString(16).padStart(4, "0");
    else out += ch;
  }
  return out + '"';
}

/** RFC 8785 for the JSON this harness handles: integers only, no floats. */
export function canonicalize(value: unknown): string {
  if (value === null) return "null";
  if (value === true) return "true";
  if (value === false) return "false";
  if (typeof value === "string") return canonicalString(value);
  if (typeof value === "number") {
    if (!Number.isSafeInteger(value)) throw new CanonicalError(`number ${value} is not a safe integer`);
    return Object.is(value, -0) ? "0" : String(value);
  }
  if (Array.isArray(value)) return "[" + value.map(canonicalize).join(",") + "]";
  if (typeof value === "object") {
    const record = value as Record<string, unknown>;
    // Default sort compares UTF-16 code units, which is what RFC 8785 asks for.
    const keys = Object.keys(record)
      .filter((k) => record[k] !== undefined)
      .sort();
    return "{" + keys.map((k) => canonicalString(k) + ":" + canonicalize(record[k])).join(",") + "}";
  }
  throw new CanonicalError(`${typeof value} is not JSON`);
}

export const canonicalBytes = (value: unknown): Buffer => Buffer.from(canonicalize(value), "utf8");

export function verifyEd25519(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  if (publicKey.length !== 32 || signature.length !== 64) return false;
  try {
    return ed.verify(signature, message, publicKey);
  } catch {
    return false;
  }
}

/** Strict lowercase hex of an exact length (in bytes), or null. */
export function hexBytes(value: unknown, bytes?: number): Buffer | null {
  if (typeof value !== "string" || !/^(?:[0-9a-f]{2})*$/.test(value)) return null;
  if (bytes !== undefined && value.length !== bytes * 2) return null;
  return Buffer.from(value, "hex");
}

// ---- RFC 6962 / RFC 9162 ----------------------------------------------------

export const EMPTY_ROOT = sha256(new Uint8Array(0));
export const leafHash = (data: Uint8Array): Buffer => sha256(Buffer.concat([Buffer.of(0), data]));
export const nodeHash = (left: Uint8Array, right: Uint8Array): Buffer => sha256(Buffer.concat([Buffer.of(1), left, right]));

/** MTH over leaf hashes, straight from the recursive definition. */
export function rootFromLeafHashes(hashes: readonly Buffer[]): Buffer {
  if (hashes.length === 0) return EMPTY_ROOT;
  if (hashes.length === 1) return hashes[0]!;
  let k = 1;
  while (k * 2 < hashes.length) k *= 2;
  return nodeHash(rootFromLeafHashes(hashes.slice(0, k)), rootFromLeafHashes(hashes.slice(k)));
}

// Sizes go past 2^32, so halving uses arithmetic rather than bit operators.
const half = (n: number): number => Math.floor(n / 2);
const odd = (n: number): boolean => n % 2 === 1;

/** RFC 9162 §2.1.3.2. */
export function verifyInclusion(leaf: Buffer, index: number, size: number, proof: readonly Buffer[], root: Buffer): boolean {
  if (!(index >= 0 && index < size)) return false;
  let fn = index;
  let sn = size - 1;
  let r = leaf;
  for (const p of proof) {
    if (sn === 0) return false;
    if (odd(fn) || fn === sn) {
      r = nodeHash(p, r);
      if (!odd(fn)) {
        while (!odd(fn) && fn !== 0) {
          fn = half(fn);
          sn = half(sn);
        }
      }
    } else {
      r = nodeHash(r, p);
    }
    fn = half(fn);
    sn = half(sn);
  }
  return sn === 0 && r.equals(root);
}

/** RFC 9162 §2.1.4.2, with the conventions of docs/PROTOCOL.md#consistency-proofs for M = 0 and M = N (empty proof). */
export function verifyConsistency(first: number, second: number, proof: readonly Buffer[], firstRoot: Buffer, secondRoot: Buffer): boolean {
  if (!(first >= 0 && first <= second)) return false;
  if (first === second) return proof.length === 0 && firstRoot.equals(secondRoot);
  if (first === 0) return proof.length === 0;
  if (proof.length === 0) return false;
  const path = [...proof];
  let isPowerOfTwo = first;
  while (isPowerOfTwo % 2 === 0) isPowerOfTwo /= 2;
  if (isPowerOfTwo === 1) path.unshift(firstRoot);
  let fn = first - 1;
  let sn = second - 1;
  while (odd(fn)) {
    fn = half(fn);
    sn = half(sn);
  }
  let fr = path[0]!;
  let sr = path[0]!;
  for (const c of path.slice(1)) {
    if (sn === 0) return false;
    if (odd(fn) || fn === sn) {
      fr = nodeHash(c, fr);
      sr = nodeHash(c, sr);
      if (!odd(fn)) {
        while (!odd(fn) && fn !== 0) {
          fn = half(fn);
          sn = half(sn);
        }
      }
    } else {
      sr = nodeHash(sr, c);
    }
    fn = half(fn);
    sn = half(sn);
  }
  return fr.equals(firstRoot) && sr.equals(secondRoot) && sn === 0;
}

// ---- C2SP signed-note and tlog-checkpoint ------------------------------------

export interface VerifierKey {
  name: string;
  keyId: Buffer;
  publicKey: Buffer;
}

export class NoteVerifyError extends Error {}

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

function strictBase64(s: string): Buffer | null {
  if (!BASE64.test(s) || s.length % 4 !== 0) return null;
  const bytes = Buffer.from(s, "base64");
  return bytes.toString("base64") === s ? bytes : null;
}

export const noteKeyId = (name: string, publicKey: Uint8Array): Buffer =>
  sha256(Buffer.concat([Buffer.from(name, "utf8"), Buffer.of(0x0a, 0x01), publicKey])).subarray(0, 4);

/** `<name>+<hex key id>+<base64(0x01 ‖ key)>`; the key id must match the key. */
export function parseVerifierKey(vkey: string): VerifierKey {
  // Split on the first two "+" only: the base64 key may itself contain "+".
  const first = vkey.indexOf("+");
  const second = vkey.indexOf("+", first + 1);
  if (first < 0 || second < 0) throw new NoteVerifyError("verifier key is not name+id+key");
  const [name, idHex, keyB64] = [vkey.slice(0, first), vkey.slice(first + 1, second), vkey.slice(second + 1)];
  if (!name || /[\s+]/.test(name)) throw new NoteVerifyError("verifier key name is empty or has spaces");
  const keyId = hexBytes(idHex, 4);
  const key = strictBase64(keyB64);
  if (!keyId) throw new NoteVerifyError("verifier key id is not 8 lowercase hex digits");
  if (!key || key.length !== 33 || key[0] !== 0x01) throw new NoteVerifyError("verifier key is not 0x01 followed by a 32-byte Ed25519 key");
  const publicKey = key.subarray(1);
  if (!noteKeyId(name, publicKey).equals(keyId)) throw new NoteVerifyError("verifier key id does not match SHA-256(name ‖ 0x0A ‖ 0x01 ‖ key)");
  return { name, keyId, publicKey };
}

/** Returns the note text (up to and including its last newline) once a signature by `key` verifies. */
export function verifyNote(note: string, key: VerifierKey): string {
  const split = note.lastIndexOf("\n\n");
  if (split < 0 || !note.endsWith("\n")) throw new NoteVerifyError("note has no blank line before its signatures or does not end with a newline");
  const text = note.slice(0, split + 1);
  const lines = note.slice(split + 2, -1).split("\n");
  let found = false;
  for (const line of lines) {
    const m = /^\u2014 (\S+) (\S+)$/.exec(line);
    if (!m) throw new NoteVerifyError(`malformed signature line ${JSON.stringify(line)}`);
    if (m[1] !== key.name) continue;
    const sig = strictBase64(m[2]!);
    if (!sig || sig.length !== 68) throw new NoteVerifyError("signature is not base64 of a 4-byte key id and a 64-byte signature");
    if (!sig.subarray(0, 4).equals(key.keyId)) continue;
    if (!verifyEd25519(key.publicKey, Buffer.from(text, "utf8"), sig.subarray(4)))
      throw new NoteVerifyError("Ed25519 signature over the note text does not verify");
    found = true;
  }
  if (!found) throw new NoteVerifyError(`no signature line by ${key.name} with key id ${key.keyId.toString("hex")}`);
  return text;
}

export interface Checkpoint {
  origin: string;
  size: number;
  root: Buffer;
}

export function parseCheckpoint(text: string): Checkpoint {
  const lines = text.split("\n");
  if (lines.length < 4 || lines[lines.length - 1] !== "") throw new NoteVerifyError("checkpoint body needs origin, size and root lines ending in a newline");
  const [origin, sizeText, rootText] = lines as [string, string, string];
  if (!origin) throw new NoteVerifyError("empty origin line");
  if (!/^(?:0|[1-9][0-9]*)$/.test(sizeText) || !Number.isSafeInteger(Number(sizeText)))
    throw new NoteVerifyError(`size line ${JSON.stringify(sizeText)} is not a decimal integer`);
  const root = strictBase64(rootText);
  if (!root || root.length !== 32) throw new NoteVerifyError("root line is not base64 of 32 bytes");
  return { origin, size: Number(sizeText), root };
}

// ---- tiles -------------------------------------------------------------------

/** Parses a C2SP entry bundle: each entry is a big-endian uint16 length then the bytes. */
export function parseEntryBundle(bundle: Buffer): Buffer[] {
  const entries: Buffer[] = [];
  let at = 0;
  while (at < bundle.length) {
    if (at + 2 > bundle.length) throw new Error("truncated entry length");
    const length = bundle.readUInt16BE(at);
    if (at + 2 + length > bundle.length) throw new Error("truncated entry");
    entries.push(bundle.subarray(at + 2, at + 2 + length));
    at += 2 + length;
  }
  return entries;
}
