/**
 * Signing C2SP signed-notes with Ed25519 keys; parsing and verification are in
 * src/verify/note.ts, shared with the inspector page.
 */
import type { Signer } from "../core/ed25519.js";
import { ALG_ED25519, checkKeyName, NoteError, noteKeyId, SIG_PREFIX } from "../verify/note.js";

export { decodeStrictBase64 } from "../verify/bytes.js";
export {
  ALG_ED25519,
  isValidKeyName,
  NoteError,
  noteKeyId,
  parseVerifierKey,
  verifyNote,
  type NoteSignature,
  type NoteVerifier,
  type VerifiedNote,
} from "../verify/note.js";

/** `<name>+<hex key id>+<base64(0x01 ‖ public key)>` */
export function verifierKey(name: string, publicKey: Uint8Array): string {
  const encoded = Buffer.concat([Buffer.from([ALG_ED25519]), publicKey]).toString("base64");
  return `${name}+${Buffer.from(noteKeyId(name, publicKey)).toString("hex")}+${encoded}`;
}

/** Signs `text` (which must end in a newline) and returns the whole note. */
export function signNote(text: string, name: string, signer: Signer): string {
  checkText(text);
  checkKeyName(name);
  const keyId = noteKeyId(name, signer.publicKey);
  const signature = signer.sign(Buffer.from(text, "utf8"));
  return `${text}\n${SIG_PREFIX}${name} ${Buffer.concat([keyId, signature]).toString("base64")}\n`;
}

function checkText(text: string): void {
  if (!text.endsWith("\n")) throw new NoteError("note text must end with a newline");
  if (!text.isWellFormed() || /[\u0000-\u0009\u000b-\u001f]/.test(text)) {
    throw new NoteError("note text must be well-formed and free of control characters other than newline");
  }
}
