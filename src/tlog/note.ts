/**
 * C2SP signed-note with Ed25519 keys (algorithm byte 0x01).
 *
 * A note is UTF-8 text ending in a newline, a blank line, then one or more
 * signature lines `— <key name> <base64(key id ‖ signature)>`. Parsing follows
 * the reference (golang.org/x/mod/sumdb/note): signatures by keys the caller
 * does not know are ignored, a known key whose signature fails rejects the
 * whole note, and a note with no verified signature is rejected.
 */
import { createHash } from "node:crypto";
import { verifyEd25519, type Signer } from "../core/ed25519.js";

export class NoteError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "NoteError";
  }
}

export const ALG_ED25519 = 0x01;
const SIG_PREFIX = "\u2014 ";
/** The reference refuses notes with more signature lines than this, to bound the work. */
const MAX_SIGNATURES = 100;

export interface NoteVerifier {
  name: string;
  /** First 4 bytes of SHA-256(name ‖ 0x0A ‖ 0x01 ‖ public key). */
  keyId: Buffer;
  publicKey: Buffer;
}

export interface NoteSignature {
  name: string;
  keyId: Buffer;
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

export function noteKeyId(name: string, publicKey: Uint8Array): Buffer {
  checkName(name);
  checkPublicKey(publicKey);
  return createHash("sha256")
    .update(Buffer.from(name, "utf8"))
    .update(Buffer.from([0x0a, ALG_ED25519]))
    .update(publicKey)
    .digest()
    .subarray(0, 4);
}

/** `<name>+<hex key id>+<base64(0x01 ‖ public key)>` */
export function verifierKey(name: string, publicKey: Uint8Array): string {
  const encoded = Buffer.concat([Buffer.from([ALG_ED25519]), publicKey]).toString("base64");
  return `${name}+${noteKeyId(name, publicKey).toString("hex")}+${encoded}`;
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
  if (!/^[0-9a-fA-F]{8}$/.test(idHex)) throw new NoteError("verifier key id must be 8 hex characters");
  const key = decodeStrictBase64(keyB64);
  if (!key || key.length === 0) throw new NoteError("verifier key material is not valid base64");
  if (key[0] !== ALG_ED25519) throw new NoteError(`verifier key algorithm ${key[0]} is not Ed25519 (1)`);
  const publicKey = key.subarray(1);
  if (publicKey.length !== 32) throw new NoteError("an Ed25519 verifier key holds a 32-byte public key");
  const keyId = noteKeyId(name, publicKey);
  if (!keyId.equals(Buffer.from(idHex, "hex"))) throw new NoteError("verifier key id does not match its name and key");
  return { name, keyId, publicKey };
}

/** Signs `text` (which must end in a newline) and returns the whole note. */
export function signNote(text: string, name: string, signer: Signer): string {
  checkText(text);
  checkName(name);
  const keyId = noteKeyId(name, signer.publicKey);
  const signature = signer.sign(Buffer.from(text, "utf8"));
  return `${text}\n${SIG_PREFIX}${name} ${Buffer.concat([keyId, signature]).toString("base64")}\n`;
}

/**
 * Opens a note and verifies it against the given verifier keys (key strings or
 * parsed verifiers). Throws NoteError unless at least one known key signed it
 * and every signature by a known key verifies.
 */
export function verifyNote(
  note: string | Uint8Array,
  vkeys: string | NoteVerifier | readonly (string | NoteVerifier)[],
): VerifiedNote {
  const verifiers = (Array.isArray(vkeys) ? vkeys : [vkeys]).map((k: string | NoteVerifier) =>
    typeof k === "string" ? parseVerifierKey(k) : k,
  );
  const msg = decodeNote(note);
  if (/[\u0000-\u0009\u000b-\u001f]/.test(msg)) throw new NoteError("note contains a control character");
  const split = msg.lastIndexOf("\n\n");
  if (split < 0) throw new NoteError("note has no blank line before its signatures");
  const text = msg.slice(0, split + 1);
  const block = msg.slice(split + 2);
  if (block.length === 0 || !block.endsWith("\n")) throw new NoteError("note signature block must end with a newline");

  const textBytes = Buffer.from(text, "utf8");
  const verified: NoteSignature[] = [];
  const unknown: NoteSignature[] = [];
  const seen = new Set<string>();
  const lines = block.slice(0, -1).split("\n");
  if (lines.length > MAX_SIGNATURES) throw new NoteError(`note has more than ${MAX_SIGNATURES} signatures`);
  for (const line of lines) {
    const { name, keyId, signature } = parseSignatureLine(line);
    const verifier = verifiers.find((v) => v.name === name && v.keyId.equals(keyId));
    const tag = `${name}\u0000${keyId.toString("hex")}`;
    if (!verifier) {
      unknown.push({ name, keyId });
      continue;
    }
    // Unlike the reference, a repeated line by a known key is checked too: a bad one means tampering.
    if (!verifyEd25519(verifier.publicKey, textBytes, signature)) {
      throw new NoteError(`note signature by ${name}+${keyId.toString("hex")} does not verify`);
    }
    if (seen.has(tag)) continue;
    seen.add(tag);
    verified.push({ name, keyId });
  }
  if (verified.length === 0) throw new NoteError("note has no signature by a known key");
  return { text, verified, unknown };
}

function parseSignatureLine(line: string): { name: string; keyId: Buffer; signature: Buffer } {
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

/** Standard padded base64 only: Buffer.from would silently skip bad characters. */
export function decodeStrictBase64(value: string): Buffer | null {
  if (value.length === 0 || value.length % 4 !== 0 || !/^[A-Za-z0-9+/]+={0,2}$/.test(value)) return null;
  const bytes = Buffer.from(value, "base64");
  return bytes.toString("base64") === value ? bytes : null;
}

function checkText(text: string): void {
  if (!text.endsWith("\n")) throw new NoteError("note text must end with a newline");
  if (!text.isWellFormed() || /[\u0000-\u0009\u000b-\u001f]/.test(text)) {
    throw new NoteError("note text must be well-formed and free of control characters other than newline");
  }
}

function checkName(name: string): void {
  if (!isValidKeyName(name)) throw new NoteError(`invalid note key name ${JSON.stringify(name)}`);
}

function checkPublicKey(publicKey: Uint8Array): void {
  if (publicKey.length !== 32) throw new NoteError("an Ed25519 public key is 32 bytes");
}
