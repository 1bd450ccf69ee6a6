/**
 * RFC 6962 / RFC 9162 hashing and proof verification: the one implementation,
 * shared by the server (src/tlog/merkle.ts), the `verify-evidence` command and
 * the inspector page. Free of I/O and of Node: hashing is @noble/hashes by
 * default, and the server passes its OpenSSL hasher for speed.
 *
 * Tree sizes and indexes are plain numbers, so nothing here uses 32-bit
 * bitwise operators on them: a log may pass 2^32 leaves.
 */
import { sha256 } from "@noble/hashes/sha2.js";
import { concatBytes, equalBytes } from "./bytes.js";

export const HASH_SIZE = 32;
/** The domain-separation bytes RFC 6962 §2.1 puts before a leaf and before an interior node. */
export const LEAF_PREFIX = 0x00;
export const NODE_PREFIX = 0x01;

export interface MerkleHasher {
  /** SHA-256(0x00 ‖ data). */
  leaf(data: Uint8Array): Uint8Array;
  /** SHA-256(0x01 ‖ left ‖ right). */
  node(left: Uint8Array, right: Uint8Array): Uint8Array;
}

const LEAF = Uint8Array.of(LEAF_PREFIX);
const NODE = Uint8Array.of(NODE_PREFIX);

export const nobleHasher: MerkleHasher = {
  leaf: (data) => sha256(concatBytes(LEAF, data)),
  node: (left, right) => sha256(concatBytes(NODE, left, right)),
};

/** SHA-256 of the empty string: the root of the tree with no leaves. */
export const EMPTY_ROOT_BYTES: Uint8Array = sha256(new Uint8Array(0));

const TWO_32 = 2 ** 32;

/** floor(log2(n)) for 1 ≤ n < 2^53. */
export function floorLog2(n: number): number {
  return n >= TWO_32 ? 63 - Math.clz32(Math.floor(n / TWO_32)) : 31 - Math.clz32(n);
}

export const isTreeSize = (n: unknown): n is number => Number.isSafeInteger(n) && (n as number) >= 0;
export const isHash = (h: unknown): h is Uint8Array => h instanceof Uint8Array && h.length === HASH_SIZE;

/** RFC 9162 §2.1.3.2. Never throws: malformed input is simply not a valid proof. */
export function verifyInclusion(
  leaf: Uint8Array,
  index: number,
  size: number,
  proof: readonly Uint8Array[],
  root: Uint8Array,
  hasher: MerkleHasher = nobleHasher,
): boolean {
  if (!isHash(leaf) || !isHash(root) || !isTreeSize(index) || !isTreeSize(size) || index >= size) return false;
  if (!Array.isArray(proof) || !proof.every(isHash)) return false;
  let fn = index;
  let sn = size - 1;
  let r: Uint8Array = leaf;
  for (const p of proof) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      r = hasher.node(p, r);
      while (fn % 2 === 0 && fn !== 0) {
        fn /= 2;
        sn = Math.floor(sn / 2);
      }
    } else {
      r = hasher.node(r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 && equalBytes(r, root);
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
  hasher: MerkleHasher = nobleHasher,
): boolean {
  if (!isTreeSize(first) || !isTreeSize(second) || first > second || !isHash(firstRoot) || !isHash(secondRoot)) return false;
  if (!Array.isArray(proof) || !proof.every(isHash)) return false;
  if (first === 0) return proof.length === 0 && equalBytes(firstRoot, EMPTY_ROOT_BYTES);
  if (first === second) return proof.length === 0 && equalBytes(firstRoot, secondRoot);
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
      fr = hasher.node(c, fr);
      sr = hasher.node(c, sr);
      while (fn % 2 === 0 && fn !== 0) {
        fn /= 2;
        sn = Math.floor(sn / 2);
      }
    } else {
      sr = hasher.node(sr, c);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 && equalBytes(fr, firstRoot) && equalBytes(sr, secondRoot);
}
