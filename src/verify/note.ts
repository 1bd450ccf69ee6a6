/**
 * C2SP signed-note verification with Ed25519 keys (algorithm byte 0x01);
 * signing is the server's (src/tlog/note.ts).
 *
 * A note is UTF-8 text ending in a newline, a blank line, then one or more
 * signature lines `— <key name> <base64(key id ‖ signature)>`. Parsing follows
 * the reference (golang.org/x/mod/sumdb/note): signatures by keys the caller
 * does not know are ignored, a known key whose signature fails rejects the
 * whole note, and a note with no verified signature is rejected.
 */
import { sha256 } from "@noble/hashes/sha2.js";
import { concatBytes, decodeStrictBase64, equalBytes, parseHex, toHex, utf8 } from "./bytes.js";
import { verifyEd25519 } from "./ed25519.js";

export class NoteError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "NoteError";
  }
}

export const ALG_ED25519 = 0x01;
export const SIG_PREFIX = "\u2014 ";
/** The reference refuses notes with more signature lines than this, to bound the work. */
const MAX_SIGNATURES = 100;

export interface NoteVerifier {
  name: string;
  /** First 4 bytes of SHA-256(name ‖ 0x0A ‖ 0x01 ‖ public key). */
  keyId: Uint8Array;
  publicKey: Uint8Array;
}

export interface NoteSignature {
  name: string;
  keyId: Uint8Array;
}

export interface VerifiedNote {
  /** The signed text, ending in its newline (the blank line is not part of it). */
  text: string;
  verified: NoteSignature[];
  /** Signatures by keys the caller did not pass; not checked. */
  unknown: NoteSignature[];
}

/** Key names: non-empty, no Unicode white space (Go's unicode.IsSpace, incl. U+0085) and no `+`. */
export function isValidKeyName(name: string): boolean {
  return name.length > 0 && name.isWellFormed() && !/[\s\u0085+]/u.test(name);
}

export function checkKeyName(name: string): void {
  if (!isValidKeyName(name)) throw new NoteError(`invalid note key name ${JSON.stringify(name)}`);
}

export function noteKeyId(name: string, publicKey: Uint8Array): Uint8Array {
  checkKeyName(name);
  if (publicKey.length !== 32) throw new NoteError("an Ed25519 public key is 32 bytes");
  return sha256(concatBytes(utf8(name), Uint8Array.of(0x0a, ALG_ED25519), publicKey)).subarray(0, 4);
}

export function parseVerifierKey(vkey: string): NoteVerifier {
  // Standard base64 has '+' in its alphabet: only the first two '+' separate fields (as Go's note.NewVerifier chops).
  const first = vkey.indexOf("+");
  const second = first < 0 ? -1 : vkey.indexOf("+", first + 1);
  if (second < 0) throw new NoteError("a verifier key has the form <name>+<hex key id>+<base64 key>");
  const name = vkey.slice(0, first);
  const idHex = vkey.slice(first + 1, second);
  const keyB64 = vkey.slice(second + 1);
  if (!isValidKeyName(name)) throw new NoteError("verifier key has an invalid key name");
  const id = parseHex(idHex, 4);
  if (!id) throw new NoteError("verifier key id must be 8 hex characters");
  const key = decodeStrictBase64(keyB64);
  if (!key || key.length === 0) throw new NoteError("verifier key material is not valid base64");
  if (key[0] !== ALG_ED25519) throw new NoteError(`verifier key algorithm ${key[0]} is not Ed25519 (1)`);
  const publicKey = key.subarray(1);
  if (publicKey.length !== 32) throw new NoteError("an Ed25519 verifier key holds a 32-byte public key");
  const keyId = noteKeyId(name, publicKey);
  if (!equalBytes(keyId, id)) throw new NoteError("verifier key id does not match its name and key");
  return { name, keyId, publicKey };
}

/**
 * Opens a note and verifies it against the given verifier keys (key strings or
 * parsed verifiers). Throws NoteError unless at least one known key signed it
 * and every signature by a known key verifies.
 */
export function verifyNote(note: string | Uint8Array, vkeys: string | NoteVerifier | readonly (string | NoteVerifier)[]): VerifiedNote {
  const verifiers = (Array.isArray(vkeys) ? vkeys : [vkeys]).map((k: string | NoteVerifier) => (typeof k === "string" ? parseVerifierKey(k) : k));
  const msg = decodeNote(note);
  if (/[\u0000-\u0009\u000b-\u001f]/.test(msg)) throw new NoteError("note contains a control character");
  const split = msg.lastIndexOf("\n\n");
  if (split < 0) throw new NoteError("note has no blank line before its signatures");
  const text = msg.slice(0, split + 1);
  const block = msg.slice(split + 2);
  if (block.length === 0 || !block.endsWith("\n")) throw new NoteError("note signature block must end with a newline");

  const textBytes = utf8(text);
  const verified: NoteSignature[] = [];
  const unknown: NoteSignature[] = [];
  const seen = new Set<string>();
  const lines = block.slice(0, -1).split("\n");
  if (lines.length > MAX_SIGNATURES) throw new NoteError(`note has more than ${MAX_SIGNATURES} signatures`);
  for (const line of lines) {
    const { name, keyId, signature } = parseSignatureLine(line);
    const verifier = verifiers.find((v) => v.name === name && equalBytes(v.keyId, keyId));
    const tag = `${name}\u0000${toHex(keyId)}`;
    if (!verifier) {
      unknown.push({ name, keyId });
      continue;
    }
    // Unlike the reference, a repeated line by a known key is checked too: a bad one means tampering.
    if (!verifyEd25519(verifier.publicKey, textBytes, signature)) {
      throw new NoteError(`note signature by ${name}+${toHex(keyId)} does not verify`);
    }
    if (seen.has(tag)) continue;
    seen.add(tag);
    verified.push({ name, keyId });
  }
  if (verified.length === 0) throw new NoteError("note has no signature by a known key");
  return { text, verified, unknown };
}

function parseSignatureLine(line: string): { name: string; keyId: Uint8Array; signature: Uint8Array } {
  if (!line.startsWith(SIG_PREFIX)) throw new NoteError("note signature line must start with an em dash and a space");
  const rest = line.slice(SIG_PREFIX.length);
  const space = rest.indexOf(" ");
  if (space < 0) throw new NoteError("note signature line has no signature");
  const name = rest.slice(0, space);
  const decoded = decodeStrictBase64(rest.slice(space + 1));
  if (!isValidKeyName(name) || !decoded || decoded.length < 5) throw new NoteError("malformed note signature line");
  // Ed25519 signatures are 64 bytes; other lengths belong to other algorithms and cannot match our keys.
  return { name, keyId: decoded.subarray(0, 4), signature: decoded.subarray(4) };
}

function decodeNote(note: string | Uint8Array): string {
  if (typeof note === "string") {
    if (!note.isWellFormed()) throw new NoteError("note is not well-formed Unicode");
    return note;
  }
  try {
    return new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(note);
  } catch {
    throw new NoteError("note is not valid UTF-8");
  }
}
