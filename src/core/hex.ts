/**
 * Hex at the boundary: attacker-controlled strings are checked for alphabet and
 * length before `Buffer.from`, which would otherwise silently truncate at the
 * first bad character.
 */
import { parseHex as parseHexBytes } from "../verify/bytes.js";

/** Byte length of a string in UTF-8, which is how identifier limits are counted: the one rule, src/verify/bytes.ts. */
export { utf8Length } from "../verify/bytes.js";

/** Decodes `value` when it is a hex string of exactly `bytes` bytes, else null (the rule of src/verify/bytes.ts, as a Buffer). */
export function parseHex(value: unknown, bytes?: number): Buffer | null {
  const decoded = parseHexBytes(value, bytes);
  return decoded && Buffer.from(decoded.buffer, decoded.byteOffset, decoded.byteLength);
}

/** Lowercase hex of 32/64-byte keys and hashes as the wire format wants them. */
export const toHex = (bytes: Uint8Array): string => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("hex");
