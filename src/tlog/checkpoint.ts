/**
 * Formatting and signing C2SP tlog-checkpoints; parsing and verification are
 * in src/verify/checkpoint.ts, shared with the inspector page.
 */
import type { Signer } from "../core/ed25519.js";
import { CHECKPOINT_ORIGIN, type Checkpoint } from "../verify/checkpoint.js";
import { NoteError } from "../verify/note.js";
import { signNote } from "./note.js";

export {
  MAX_CHECKPOINT_BODY,
  parseCheckpointBody,
  verifyCheckpoint,
  type Checkpoint,
  type ParsedCheckpoint,
} from "../verify/checkpoint.js";

export function formatCheckpointBody({ origin, size, root }: Checkpoint): string {
  if (!CHECKPOINT_ORIGIN.test(origin) || !origin.isWellFormed()) throw new NoteError(`invalid checkpoint origin ${JSON.stringify(origin)}`);
  if (!Number.isSafeInteger(size) || size < 0) throw new NoteError(`checkpoint size ${size} is not a safe non-negative integer`);
  if (root.length !== 32) throw new NoteError(`checkpoint root is 32 bytes, got ${root.length}`);
  return `${origin}\n${size}\n${Buffer.from(root).toString("base64")}\n`;
}

export function signCheckpoint(checkpoint: Checkpoint, signer: Signer): string {
  return signNote(formatCheckpointBody(checkpoint), checkpoint.origin, signer);
}
