/**
 * Byte helpers for code that runs in browsers as well as Node: Uint8Array,
 * TextEncoder and atob only, never Node's Buffer; hex and base64 from outside are
 * checked for alphabet and length before decoding, since lenient decoders
 * silently skip or truncate at bad characters.
 */
const encoder = new TextEncoder();

/**
 * Decodes `value` when it is a hex string (of exactly `bytes` bytes if given),
 * else null. Checked and decoded in one pass over the character codes: each
 * registration decodes its key and signature on two threads, and a regular
 * expression plus a `parseInt` of a slice per byte was 2 % of the main thread.
 */
export function parseHex(value: unknown, bytes?: number): Uint8Array | null {
  if (typeof value !== "string" || value.length % 2 !== 0) return null;
  if (bytes !== undefined && value.length !== bytes * 2) return null;
  const out = new Uint8Array(value.length / 2);
  for (let i = 0; i < out.length; i++) {
    const high = hexDigit(value.charCodeAt(2 * i));
    const low = hexDigit(value.charCodeAt(2 * i + 1));
    if (high < 0 || low < 0) return null;
    out[i] = (high << 4) | low;
  }
  return out;
}

/** 0-15 for 0-9, a-f and A-F; -1 for anything else. */
function hexDigit(code: number): number {
  if (code >= 0x30 && code <= 0x39) return code - 0x30;
  // Setting bit 0x20 turns A-F into a-f and nothing else into a-f.
  const lower = code | 0x20;
  if (lower >= 0x61 && lower <= 0x66) return lower - 0x61 + 10;
  return -1;
}

/** Lowercase hex, as the wire format writes keys and hashes. */
export function toHex(bytes: Uint8Array): string {
  let out = "";
  for (const b of bytes) out += b.toString(16).padStart(2, "0");
  return out;
}

export const utf8 = (text: string): Uint8Array => encoder.encode(text);

/**
 * Byte length of a string in UTF-8, which is how identifier limits are
 * counted; a lone surrogate counts as the U+FFFD (3 bytes) TextEncoder writes
 * for it. Counted rather than encoded: every identifier of a registration is
 * measured, and each encoding was an ArrayBuffer for the collector.
 */
export function utf8Length(text: string): number {
  let bytes = text.length;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit < 0x80) continue;
    if (unit < 0x800) {
      bytes += 1;
    } else if (unit >= 0xd800 && unit < 0xdc00 && isLowSurrogate(text.charCodeAt(i + 1))) {
      // A pair: two units, four bytes.
      bytes += 2;
      i++;
    } else {
      bytes += 2;
    }
  }
  return bytes;
}

const isLowSurrogate = (unit: number): boolean => unit >= 0xdc00 && unit < 0xe000;

export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}

export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export function toBase64(bytes: Uint8Array): string {
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary);
}

/** Standard padded base64 only, and only its one canonical spelling. */
export function decodeStrictBase64(value: string): Uint8Array | null {
  if (value.length === 0 || value.length % 4 !== 0 || !/^[A-Za-z0-9+/]+={0,2}$/.test(value)) return null;
  const binary = atob(value);
  const bytes = Uint8Array.from(binary, (c) => c.charCodeAt(0));
  return toBase64(bytes) === value ? bytes : null;
}
