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
import {
  floorLog2,
  HASH_SIZE,
  isHash,
  isTreeSize as isSize,
  LEAF_PREFIX,
  NODE_PREFIX,
  verifyConsistency as verifyConsistencyWith,
  verifyInclusion as verifyInclusionWith,
  type MerkleHasher,
} from "../verify/rfc6962.js";

export { floorLog2, HASH_SIZE };

/** SHA-256 of the empty string: the root of the tree with no leaves. */
export const EMPTY_ROOT: Buffer = createHash("sha256").digest();

/** Hash of the complete subtree of 2^level leaves starting at leaf index * 2^level; level 0 is the leaf hash. */
export interface NodeSource {
  node(level: number, index: number): Buffer;
  /**
   * MTH(D[start:end]) when the source already knows it, so the proof math
   * need not hash it again from its subtrees (a store knows the ranges that
   * end at its current size once per size).
   */
  range?(start: number, end: number): Buffer | undefined;
}

// One-shot hashing of a reused prefixed buffer is ~40% faster than a Hash
// object for inputs this small; the calls are synchronous, so sharing the
// scratch buffers is safe. The digest comes back as latin1 text (one byte a
// character, so exact) and lands in a slice of Node's buffer pool: a digest
// Buffer of its own is a new ArrayBuffer with its own malloc, which took
// about half of each hash's time (~0.95 against ~0.5 µs a node hash) and
// fed the garbage collector's ArrayBuffer sweeper, with ~17 hashes a proof.
const sha256 = oneShotHash as unknown as (algorithm: "sha256", data: Uint8Array, encoding: "latin1") => string;
const digest = (data: Uint8Array): Buffer => Buffer.from(sha256("sha256", data, "latin1"), "latin1");
const LEAF_SCRATCH_BYTES = 1 + 65_536;
const leafScratch = Buffer.alloc(LEAF_SCRATCH_BYTES, LEAF_PREFIX);
const nodeScratch = Buffer.alloc(1 + 2 * HASH_SIZE, NODE_PREFIX);

/** SHA-256(0x00 ‖ data). */
export function leafHash(data: Uint8Array): Buffer {
  if (data.length >= LEAF_SCRATCH_BYTES) return createHash("sha256").update(leafScratch.subarray(0, 1)).update(data).digest();
  leafScratch.set(data, 1);
  return digest(leafScratch.subarray(0, 1 + data.length));
}

/**
 * Whether SHA-256(0x00 ‖ data) is the HASH_SIZE bytes of `hashes` at
 * `offset`. The digest comes back as a one-byte (latin1) string, not a Buffer: a
 * /tlog/range window checks 1,000 leaves, and a Buffer each (a backing store
 * of its own) cost ~0.8 µs more per leaf and work for the collector.
 */
export function leafHashEquals(data: Uint8Array, hashes: Uint8Array, offset: number): boolean {
  let text: string;
  if (data.length >= LEAF_SCRATCH_BYTES) text = createHash("sha256").update(leafScratch.subarray(0, 1)).update(data).digest("binary");
  else {
    leafScratch.set(data, 1);
    text = sha256("sha256", leafScratch.subarray(0, 1 + data.length), "latin1");
  }
  for (let i = 0; i < HASH_SIZE; i++) if (text.charCodeAt(i) !== hashes[offset + i]) return false;
  return true;
}

/** SHA-256(0x01 ‖ left ‖ right). */
export function nodeHash(left: Uint8Array, right: Uint8Array): Buffer {
  nodeScratch.set(left, 1);
  nodeScratch.set(right, 1 + HASH_SIZE);
  return digest(nodeScratch);
}

/** The RFC 6962 rules of src/verify/rfc6962.ts on OpenSSL's SHA-256, ~10× faster than pure JS. */
const nodeHasher: MerkleHasher = { leaf: leafHash, node: nodeHash };

const TWO_32 = 2 ** 32;
/** 2^k by k, for the index math every proof runs dozens of times: a lookup instead of Math.pow. */
const POW2: readonly number[] = Array.from({ length: 64 }, (_, k) => 2 ** k);

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
  return POW2[floorLog2(n - 1)]!;
}

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
    while (at % POW2[level]! !== 0) level--;
    into.push({ level, index: at / POW2[level]! });
    at += POW2[level]!;
  }
  return into;
}

/** MTH(D[start:end]) from complete subtrees. */
export function rangeHash(src: NodeSource, start: number, end: number): Buffer {
  if (end <= start) return EMPTY_ROOT;
  // Most of a proof's ranges are one complete subtree: its node, without listing it first.
  const level = floorLog2(end - start);
  if (POW2[level] === end - start && start % POW2[level]! === 0) return src.node(level, start / POW2[level]!);
  return src.range?.(start, end) ?? rootOfPeaks(rangeNodes(start, end).map(({ level, index }) => src.node(level, index)));
}

/** Root of a tree from the roots of its perfect subtrees, largest (leftmost) first. */
export function rootOfPeaks(peaks: readonly Buffer[]): Buffer {
  if (peaks.length === 0) return EMPTY_ROOT;
  let root = peaks[peaks.length - 1]!;
  for (let i = peaks.length - 2; i >= 0; i--) root = nodeHash(peaks[i]!, root);
  return root;
}

/**
 * The hash of the complete subtree `level`/`index` from a run of leaf hashes
 * (32 bytes each) that starts at leaf `first` and covers the subtree.
 */
export function subtreeOfLeaves(leafHashes: Buffer, first: number, level: number, index: number): Buffer {
  if (level === 0) {
    const at = (index - first) * HASH_SIZE;
    if (at < 0 || at + HASH_SIZE > leafHashes.length) throw new RangeError(`leaf ${index} is not in the run from ${first}`);
    return leafHashes.subarray(at, at + HASH_SIZE);
  }
  return nodeHash(subtreeOfLeaves(leafHashes, first, level - 1, 2 * index), subtreeOfLeaves(leafHashes, first, level - 1, 2 * index + 1));
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

/** RFC 9162 §2.1.3.2 with this module's hashing; never throws. */
export const verifyInclusion = (leaf: Uint8Array, index: number, size: number, proof: readonly Uint8Array[], root: Uint8Array): boolean =>
  verifyInclusionWith(leaf, index, size, proof, root, nodeHasher);

/** RFC 9162 §2.1.4.2 as docs/PROTOCOL.md#consistency-proofs extends it, with this module's hashing; never throws. */
export const verifyConsistency = (first: number, second: number, proof: readonly Uint8Array[], firstRoot: Uint8Array, secondRoot: Uint8Array): boolean =>
  verifyConsistencyWith(first, second, proof, firstRoot, secondRoot, nodeHasher);

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
