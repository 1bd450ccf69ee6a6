/**
 * C2SP tlog-checkpoint: the note body `<origin>\n<size>\n<base64 root>\n`,
 * optionally followed by extension lines, signed as a C2SP signed-note whose
 * key name is the origin. Parsing and verification; the server formats and
 * signs (src/tlog/checkpoint.ts).
 */
import { decodeStrictBase64 } from "./bytes.js";
import { NoteError, parseVerifierKey, verifyNote, type NoteVerifier } from "./note.js";

export interface Checkpoint {
  origin: string;
  size: number;
  root: Uint8Array;
}

export interface ParsedCheckpoint extends Checkpoint {
  /** Lines after the root line, in order (opaque to us). */
  extensions: string[];
}

/** The origin doubles as the note key name, so it follows the key-name rules plus no control characters. */
export const CHECKPOINT_ORIGIN = /^[^\s\u0085+\u0000-\u001f]+$/u;
const SIZE = /^(0|[1-9][0-9]*)$/;
/** A checkpoint is a handful of short lines; refuse to even split anything larger. */
export const MAX_CHECKPOINT_BODY = 16 * 1024;

export function parseCheckpointBody(text: string): ParsedCheckpoint {
  if (text.length > MAX_CHECKPOINT_BODY) throw new NoteError("checkpoint body is too large");
  if (!text.endsWith("\n")) throw new NoteError("checkpoint body must end with a newline");
  const lines = text.slice(0, -1).split("\n");
  if (lines.length < 3) throw new NoteError("checkpoint body needs origin, size and root lines");
  const [origin, sizeText, rootText, ...extensions] = lines as [string, string, string, ...string[]];
  if (!CHECKPOINT_ORIGIN.test(origin) || !origin.isWellFormed()) throw new NoteError("checkpoint origin line is invalid");
  if (!SIZE.test(sizeText)) throw new NoteError("checkpoint size must be decimal without leading zeros");
  const size = Number(sizeText);
  if (!Number.isSafeInteger(size)) throw new NoteError("checkpoint size exceeds 2^53-1");
  const root = decodeStrictBase64(rootText);
  if (!root || root.length !== 32) throw new NoteError("checkpoint root must be base64 of 32 bytes");
  if (extensions.some((line) => line.length === 0)) throw new NoteError("checkpoint extension lines must not be empty");
  return { origin, size, root, extensions };
}

/**
 * Verifies a checkpoint note against the log's verifier key and returns its
 * body. The origin must be the key's name: a checkpoint signed by this key for
 * some other origin is not a checkpoint of this log.
 */
export function verifyCheckpoint(noteText: string | Uint8Array, vkey: string | NoteVerifier): ParsedCheckpoint {
  const verifier = typeof vkey === "string" ? parseVerifierKey(vkey) : vkey;
  const { text } = verifyNote(noteText, verifier);
  const checkpoint = parseCheckpointBody(text);
  if (checkpoint.origin !== verifier.name) {
    throw new NoteError(`checkpoint origin ${JSON.stringify(checkpoint.origin)} is not the key name ${JSON.stringify(verifier.name)}`);
  }
  return checkpoint;
}
