/**
 * JSON written byte by byte into pooled chunks (ChunkPool), for answers too
 * large to build as one string or buffer: text, hex and the inside of JSON
 * strings, each exactly as JSON.stringify writes it, split across chunks
 * wherever a chunk fills. The parts go out one after the other, and the
 * chunks go back to the pool once they have been sent.
 */
import type { ChunkPool } from "./chunk-pool.js";

/** An answer in parts and how to give back its memory once the parts are sent; calling `release` more than once does nothing. */
export interface PooledParts {
  parts: Buffer[];
  release: () => void;
}

const HEX_DIGITS = Buffer.from("0123456789abcdef", "latin1");
const BACKSLASH = 0x5c;
const U = 0x75;
const ZERO = 0x30;
/**
 * From this many bytes on, a run that fits the chunk is hex-encoded by Node
 * and copied in: ~1.2 ns a byte for a leaf's ~300 bytes against ~3.7 for the
 * loop below, while for a hash's 32 the call costs more than the loop.
 */
const NATIVE_HEX_BYTES = 64;
/** Bytes a single input byte can become inside a JSON string: `\u00XX`. */
const WIDEST_ESCAPE = 6;

/**
 * For each byte, the letter after the backslash JSON.stringify escapes it
 * with (`u` for `\u00XX`), or 0 when it stands for itself: only control
 * characters, the quote and the backslash are escaped, and every byte of a
 * multi-byte UTF-8 sequence is 0x80 or above, so escaping bytes is escaping
 * characters.
 */
const ESCAPE = (() => {
  const table = new Uint8Array(256);
  table.fill(U, 0, 0x20);
  for (const [byte, letter] of [
    [0x08, "b"],
    [0x09, "t"],
    [0x0a, "n"],
    [0x0c, "f"],
    [0x0d, "r"],
    [0x22, '"'],
    [BACKSLASH, "\\"],
  ] as const) {
    table[byte] = letter.charCodeAt(0);
  }
  return table;
})();

export class JsonChunks {
  private readonly taken: Buffer[] = [];
  private readonly parts: Buffer[] = [];
  private readonly size: number;
  private chunk: Buffer;
  private at = 0;

  constructor(private readonly pool: ChunkPool) {
    this.size = pool.chunkSize;
    this.chunk = this.next();
  }

  /** ASCII text as it is (punctuation, keys, numbers); never longer than a chunk. */
  ascii(text: string): void {
    if (text.length > this.size) throw new RangeError(`${text.length} characters do not fit a chunk of ${this.size} bytes`);
    if (this.size - this.at < text.length) this.advance();
    this.at += this.chunk.write(text, this.at, "latin1");
  }

  /** Bytes as they are: ASCII encoded once beforehand (keys, punctuation), so an entry makes no string. */
  raw(bytes: Uint8Array): void {
    let from = 0;
    while (from < bytes.length) {
      const n = Math.min(bytes.length - from, this.size - this.at);
      if (n === 0) {
        this.advance();
        continue;
      }
      const chunk = this.chunk;
      let at = this.at;
      for (let i = from; i < from + n; i++) chunk[at++] = bytes[i]!;
      this.at = at;
      from += n;
    }
  }

  /** A non-negative safe integer in decimal. */
  integer(value: number): void {
    let digits = 1;
    for (let rest = value; rest >= 10; rest = Math.floor(rest / 10)) digits++;
    if (this.size - this.at < digits) this.advance();
    const chunk = this.chunk;
    let rest = value;
    for (let i = this.at + digits - 1; i >= this.at; i--) {
      chunk[i] = ZERO + (rest % 10);
      rest = Math.floor(rest / 10);
    }
    this.at += digits;
  }

  /** Lowercase hex of bytes[from, to). */
  hex(bytes: Buffer, from: number, to: number): void {
    if (to - from >= NATIVE_HEX_BYTES && 2 * (to - from) <= this.size - this.at) {
      this.at += this.chunk.write(bytes.toString("hex", from, to), this.at, "latin1");
      return;
    }
    while (from < to) {
      const n = Math.min(to - from, this.room(2));
      const chunk = this.chunk;
      let at = this.at;
      for (let i = from; i < from + n; i++) {
        const byte = bytes[i]!;
        chunk[at++] = HEX_DIGITS[byte >> 4]!;
        chunk[at++] = HEX_DIGITS[byte & 15]!;
      }
      this.at = at;
      from += n;
    }
  }

  /** The UTF-8 text bytes[from, to) as the inside of a JSON string; the caller has checked that it is UTF-8. */
  stringContent(bytes: Uint8Array, from: number, to: number): void {
    while (from < to) {
      const n = Math.min(to - from, this.room(WIDEST_ESCAPE));
      const chunk = this.chunk;
      let at = this.at;
      for (let i = from; i < from + n; i++) {
        const byte = bytes[i]!;
        const letter = ESCAPE[byte]!;
        if (letter === 0) {
          chunk[at++] = byte;
          continue;
        }
        chunk[at++] = BACKSLASH;
        chunk[at++] = letter;
        if (letter === U) {
          chunk[at++] = ZERO;
          chunk[at++] = ZERO;
          chunk[at++] = HEX_DIGITS[byte >> 4]!;
          chunk[at++] = HEX_DIGITS[byte & 15]!;
        }
      }
      this.at = at;
      from += n;
    }
  }

  /** How many inputs of at most `width` bytes of output each fit in the chunk, taking the next chunk when none does. */
  private room(width: number): number {
    let n = Math.floor((this.size - this.at) / width);
    while (n === 0) {
      this.advance();
      n = Math.floor((this.size - this.at) / width);
    }
    return n;
  }

  /** What was written, as parts; nothing may be written after. */
  finish(): PooledParts {
    this.parts.push(this.chunk.subarray(0, this.at));
    let released = false;
    return {
      parts: this.parts,
      release: () => {
        // Twice would hand one chunk to two answers.
        if (released) return;
        released = true;
        this.pool.give(this.taken);
      },
    };
  }

  /** Gives the chunks back unsent (the answer failed before it was finished). */
  discard(): void {
    this.pool.give(this.taken);
    this.taken.length = 0;
  }

  private advance(): void {
    this.parts.push(this.chunk.subarray(0, this.at));
    this.chunk = this.next();
    this.at = 0;
  }

  private next(): Buffer {
    const chunk = this.pool.take();
    this.taken.push(chunk);
    return chunk;
  }
}
