/**
 * RFC 6962 / RFC 9162 Merkle tree math, free of I/O.
 *
 * Tree sizes and indexes are plain numbers, so nothing here uses 32-bit
 * bitwise operators on them: a log may pass 2^32 leaves. Proof construction
 * reads only hashes of complete (perfect) subtrees through a `NodeSource`, so
 * a root or proof for any size up to the current one costs O(log n) reads
 * from whatever stores those nodes.
 */
import { createHash, hash as oneShotHash } from "node:crypto";

export const HASH_SIZE = 32;

/** SHA-256 of the empty string: the root of the tree with no leaves. */
export const EMPTY_ROOT: Buffer = createHash("sha256").digest();

/** Hash of the complete subtree of 2^level leaves starting at leaf index * 2^level; level 0 is the leaf hash. */
export interface NodeSource {
  node(level: number, index: number): Buffer;
}

// One-shot hashing of a reused prefixed buffer is ~40% faster than a Hash
// object for inputs this small; the calls are synchronous, so sharing the
// scratch buffers is safe.
const sha256 = oneShotHash as unknown as (algorithm: "sha256", data: Uint8Array, encoding: "buffer") => Buffer;
const LEAF_SCRATCH_BYTES = 1 + 65_536;
const leafScratch = Buffer.alloc(LEAF_SCRATCH_BYTES, 0x00);
const nodeScratch = Buffer.alloc(1 + 2 * HASH_SIZE, 0x01);

/** SHA-256(0x00 ‖ data). */
export function leafHash(data: Uint8Array): Buffer {
  if (data.length >= LEAF_SCRATCH_BYTES) return createHash("sha256").update(leafScratch.subarray(0, 1)).update(data).digest();
  leafScratch.set(data, 1);
  return sha256("sha256", leafScratch.subarray(0, 1 + data.length), "buffer");
}

/** SHA-256(0x01 ‖ left ‖ right). */
export function nodeHash(left: Uint8Array, right: Uint8Array): Buffer {
  nodeScratch.set(left, 1);
  nodeScratch.set(right, 1 + HASH_SIZE);
  return sha256("sha256", nodeScratch, "buffer");
}

const TWO_32 = 2 ** 32;

/** floor(log2(n)) for 1 ≤ n < 2^53. */
export function floorLog2(n: number): number {
  return n >= TWO_32 ? 63 - Math.clz32(Math.floor(n / TWO_32)) : 31 - Math.clz32(n);
}

function popcount32(x: number): number {
  x = x - ((x >>> 1) & 0x55555555);
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  return (((x + (x >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24;
}

/** Number of set bits of a safe non-negative integer. */
export function popcount(n: number): number {
  return popcount32(n % TWO_32) + popcount32(Math.floor(n / TWO_32));
}

/** Largest power of two strictly smaller than n (n ≥ 2): where RFC 6962 splits a tree of n leaves. */
function splitPoint(n: number): number {
  return 2 ** floorLog2(n - 1);
}

const isSize = (n: unknown): n is number => Number.isSafeInteger(n) && (n as number) >= 0;

/** A complete subtree: 2^level leaves from leaf index × 2^level (level 0 is a leaf). */
export interface NodeKey {
  level: number;
  index: number;
}

/**
 * The perfect subtrees MTH(D[start:end]) is made of, largest first. Every
 * range RFC 6962 recursion produces starts at a multiple of the power of two
 * above its length, so there are at most log2 of them.
 */
export function rangeNodes(start: number, end: number, into: NodeKey[] = []): NodeKey[] {
  let at = start;
  while (at < end) {
    let level = floorLog2(end - at);
    while (at % 2 ** level !== 0) level--;
    into.push({ level, index: at / 2 ** level });
    at += 2 ** level;
  }
  return into;
}

/** MTH(D[start:end]) from complete subtrees. */
export function rangeHash(src: NodeSource, start: number, end: number): Buffer {
  if (end <= start) return EMPTY_ROOT;
  return rootOfPeaks(rangeNodes(start, end).map(({ level, index }) => src.node(level, index)));
}

/** Root of a tree from the roots of its perfect subtrees, largest (leftmost) first. */
export function rootOfPeaks(peaks: readonly Buffer[]): Buffer {
  if (peaks.length === 0) return EMPTY_ROOT;
  let root = peaks[peaks.length - 1]!;
  for (let i = peaks.length - 2; i >= 0; i--) root = nodeHash(peaks[i]!, root);
  return root;
}

/** Root of the first `size` leaves. */
export function treeRoot(src: NodeSource, size: number): Buffer {
  return rangeHash(src, 0, size);
}

type Span = [start: number, end: number];

/** The leaf ranges whose hashes make PATH(index, D[0:size]), from the leaf up. */
function inclusionSpans(index: number, size: number): Span[] {
  if (!isSize(size) || !isSize(index) || index >= size) throw new RangeError(`no leaf ${index} in a tree of size ${size}`);
  const topDown: Span[] = [];
  let start = 0;
  let end = size;
  while (end - start > 1) {
    const mid = start + splitPoint(end - start);
    if (index < mid) {
      topDown.push([mid, end]);
      end = mid;
    } else {
      topDown.push([start, mid]);
      start = mid;
    }
  }
  return topDown.reverse();
}

/** The leaf ranges whose hashes make PROOF(first, D[0:second]), bottom-up; none when first is 0 or equals second. */
function consistencySpans(first: number, second: number): Span[] {
  if (!isSize(first) || !isSize(second) || first > second) throw new RangeError(`no consistency proof from ${first} to ${second}`);
  if (first === 0 || first === second) return [];
  const topDown: Span[] = [];
  let start = 0;
  let end = second;
  // SUBPROOF's flag: true while the subtree is a prefix the verifier already has the root of.
  let known = true;
  while (end !== first) {
    const mid = start + splitPoint(end - start);
    if (first <= mid) {
      topDown.push([mid, end]);
      end = mid;
    } else {
      topDown.push([start, mid]);
      start = mid;
      known = false;
    }
  }
  if (!known) topDown.push([start, end]);
  return topDown.reverse();
}

const spanNodes = (spans: readonly Span[], into: NodeKey[]): NodeKey[] => {
  for (const [start, end] of spans) rangeNodes(start, end, into);
  return into;
};

/**
 * Every node inclusionProof(src, index, size) reads: index math first, so a
 * store can fetch them all in one read (as golang.org/x/mod/sumdb/tlog's
 * ProveRecord does) and then build the proof from what it read.
 */
export function inclusionProofNodes(index: number, size: number, into: NodeKey[] = []): NodeKey[] {
  return spanNodes(inclusionSpans(index, size), into);
}

/** Every node consistencyProof(src, first, second) reads. */
export function consistencyProofNodes(first: number, second: number, into: NodeKey[] = []): NodeKey[] {
  return spanNodes(consistencySpans(first, second), into);
}

/** RFC 6962 PATH(index, D[0:size]), siblings from the leaf up. Requires index < size. */
export function inclusionProof(src: NodeSource, index: number, size: number): Buffer[] {
  return inclusionSpans(index, size).map(([start, end]) => rangeHash(src, start, end));
}

/** RFC 6962 PROOF(first, D[0:second]); empty when first is 0 or equals second. Requires first ≤ second. */
export function consistencyProof(src: NodeSource, first: number, second: number): Buffer[] {
  return consistencySpans(first, second).map(([start, end]) => rangeHash(src, start, end));
}

const isHash = (h: unknown): h is Uint8Array => h instanceof Uint8Array && h.length === HASH_SIZE;

function sameHash(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.compare(a, b) === 0;
}

/** RFC 9162 §2.1.3.2. Never throws: malformed input is simply not a valid proof. */
export function verifyInclusion(
  leaf: Uint8Array,
  index: number,
  size: number,
  proof: readonly Uint8Array[],
  root: Uint8Array,
): boolean {
  if (!isHash(leaf) || !isHash(root) || !isSize(index) || !isSize(size) || index >= size) return false;
  if (!Array.isArray(proof) || !proof.every(isHash)) return false;
  let fn = index;
  let sn = size - 1;
  let r: Uint8Array = leaf;
  for (const p of proof) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      r = nodeHash(p, r);
      while (fn % 2 === 0 && fn !== 0) {
        fn /= 2;
        sn = Math.floor(sn / 2);
      }
    } else {
      r = nodeHash(r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 && sameHash(r, root);
}

/**
 * RFC 9162 §2.1.4.2, extended as docs/PROTOCOL.md#consistency-proofs asks: first = 0 (against the
 * empty root) and first = second (equal roots) are consistent with an empty
 * proof. Never throws.
 */
export function verifyConsistency(
  first: number,
  second: number,
  proof: readonly Uint8Array[],
  firstRoot: Uint8Array,
  secondRoot: Uint8Array,
): boolean {
  if (!isSize(first) || !isSize(second) || first > second || !isHash(firstRoot) || !isHash(secondRoot)) return false;
  if (!Array.isArray(proof) || !proof.every(isHash)) return false;
  if (first === 0) return proof.length === 0 && sameHash(firstRoot, EMPTY_ROOT);
  if (first === second) return proof.length === 0 && sameHash(firstRoot, secondRoot);
  const path: readonly Uint8Array[] = first === 2 ** floorLog2(first) ? [firstRoot, ...proof] : proof;
  if (path.length === 0) return false;
  let fn = first - 1;
  let sn = second - 1;
  while (fn % 2 === 1) {
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  let fr: Uint8Array = path[0]!;
  let sr: Uint8Array = path[0]!;
  for (let i = 1; i < path.length; i++) {
    const c = path[i]!;
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      fr = nodeHash(c, fr);
      sr = nodeHash(c, sr);
      while (fn % 2 === 0 && fn !== 0) {
        fn /= 2;
        sn = Math.floor(sn / 2);
      }
    } else {
      sr = nodeHash(sr, c);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 && sameHash(fr, firstRoot) && sameHash(sr, secondRoot);
}

export interface CompactRangeJSON {
  size: number;
  peaks: string[];
}

/**
 * The right edge of a tree: the roots of its perfect subtrees, largest first
 * (one per set bit of the size). Enough to append and to compute the root
 * without any other node.
 */
export class CompactRange {
  private count = 0;
  private peaks: Buffer[] = [];

  /** From the peaks of a tree of `size` leaves, largest subtree first. */
  static of(size: number, peaks: readonly Buffer[]): CompactRange {
    if (!isSize(size) || popcount(size) !== peaks.length || !peaks.every(isHash)) {
      throw new TypeError(`a tree of size ${size} has ${isSize(size) ? popcount(size) : "no"} peaks, got ${peaks.length}`);
    }
    const range = new CompactRange();
    range.count = size;
    range.peaks = peaks.map((p) => Buffer.from(p));
    return range;
  }

  static fromJSON(json: unknown): CompactRange {
    const j = json as Partial<CompactRangeJSON> | null;
    if (typeof j !== "object" || j === null || !Array.isArray(j.peaks) || !isSize(j.size)) {
      throw new TypeError("a compact range is {size, peaks: hex[]}");
    }
    const peaks = j.peaks.map((p) => {
      if (typeof p !== "string" || !/^[0-9a-f]{64}$/i.test(p)) throw new TypeError("a compact range peak is 64 hex digits");
      return Buffer.from(p, "hex");
    });
    return CompactRange.of(j.size, peaks);
  }

  get size(): number {
    return this.count;
  }

  /** Peaks, largest subtree first (copies). */
  get hashes(): Buffer[] {
    return this.peaks.map((p) => Buffer.from(p));
  }

  /**
   * Adds one leaf hash. Every perfect subtree this completes is reported to
   * `onNode` bottom-up (level ≥ 1), which is what a node store persists.
   */
  append(leaf: Uint8Array, onNode?: (level: number, index: number, hash: Buffer) => void): void {
    if (!isHash(leaf)) throw new TypeError("a leaf hash is 32 bytes");
    let hash: Buffer = Buffer.from(leaf);
    let index = this.count;
    let level = 0;
    while (index % 2 === 1) {
      hash = nodeHash(this.peaks.pop()!, hash);
      index = (index - 1) / 2;
      level++;
      onNode?.(level, index, hash);
    }
    this.peaks.push(hash);
    this.count++;
  }

  root(): Buffer {
    return rootOfPeaks(this.peaks);
  }

  clone(): CompactRange {
    return CompactRange.of(this.count, this.peaks);
  }

  toJSON(): CompactRangeJSON {
    return { size: this.count, peaks: this.peaks.map((p) => p.toString("hex")) };
  }
}

/** Root of a whole list of leaf hashes. */
export function rootFromLeafHashes(hashes: Iterable<Uint8Array>): Buffer {
  const range = new CompactRange();
  for (const h of hashes) range.append(h);
  return range.root();
}
