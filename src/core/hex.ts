/**
 * Hex at the boundary: attacker-controlled strings are checked for alphabet and
 * length before `Buffer.from`, which would otherwise silently truncate at the
 * first bad character.
 */
const HEX = /^[0-9a-fA-F]*$/;

/** Decodes `value` when it is a hex string of exactly `bytes` bytes, else null. */
export function parseHex(value: unknown, bytes?: number): Buffer | null {
  if (typeof value !== "string" || value.length % 2 !== 0 || !HEX.test(value)) return null;
  if (bytes !== undefined && value.length !== bytes * 2) return null;
  return Buffer.from(value, "hex");
}

/** Lowercase hex of 32/64-byte keys and hashes as the wire format wants them. */
export const toHex = (bytes: Uint8Array): string => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("hex");

/** Byte length of a string in UTF-8, which is how identifier limits are counted. */
export const utf8Length = (value: string): number => Buffer.byteLength(value, "utf8");
