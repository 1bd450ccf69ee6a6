/**
 * Checks inclusion proofs before they are served, with a fraction of a full
 * RFC 9162 verification's hashing when the log is read over and over at one
 * size.
 *
 * Every leaf under one complete subtree of 2^SHARED_LEVEL leaves has the same
 * proof above that subtree: the proof of its node. Once a proof through the
 * node has verified in full against a root, a later proof at that size and
 * root whose lower SHARED_LEVEL hashes lead from its leaf to the same node,
 * and whose other hashes are the same bytes, reaches the same root by the
 * same computation: it is valid, for SHARED_LEVEL hashes and a comparison
 * instead of one hash per level of the tree. Anything else is verified in
 * full (and then remembered), so no proof is served that does not verify.
 */
import { HASH_SIZE, nodeHash, verifyInclusion } from "./merkle.js";

export const SHARED_LEVEL = 10;
/** Subtrees remembered at one root (4,096 cover 4,194,304 leaves, ~2 MB at most); past it the memory starts over. */
const MAX_REMEMBERED = 4096;

export class InclusionCheck {
  private size = -1;
  private root: Buffer = Buffer.alloc(0);
  /** By subtree index: its node's hash, then the proof above it, 32 bytes each. */
  private readonly verified = new Map<number, Buffer>();

  /** True when `path` proves `leaf` at `index` in the tree of `size` leaves whose root is `root`. */
  check(leaf: Buffer, index: number, size: number, path: readonly Buffer[], root: Buffer): boolean {
    const subtree = Math.floor(index / 2 ** SHARED_LEVEL);
    const shared = (subtree + 1) * 2 ** SHARED_LEVEL <= size && path.length >= SHARED_LEVEL && leaf.length === HASH_SIZE;
    if (!shared || !path.every((hash) => hash.length === HASH_SIZE)) return verifyInclusion(leaf, index, size, path, root);
    if (this.size !== size || !this.root.equals(root)) {
      this.size = size;
      this.root = Buffer.from(root);
      this.verified.clear();
    }
    let node = leaf;
    for (let level = 0, at = index; level < SHARED_LEVEL; level++, at = Math.floor(at / 2)) {
      node = at % 2 === 1 ? nodeHash(path[level]!, node) : nodeHash(node, path[level]!);
    }
    const known = this.verified.get(subtree);
    if (known !== undefined && sameAbove(known, node, path)) return true;
    if (!verifyInclusion(leaf, index, size, path, root)) return false;
    if (this.verified.size >= MAX_REMEMBERED) this.verified.clear();
    this.verified.set(subtree, Buffer.concat([node, ...path.slice(SHARED_LEVEL)]));
    return true;
  }
}

function sameAbove(known: Buffer, node: Buffer, path: readonly Buffer[]): boolean {
  if (known.length !== (1 + path.length - SHARED_LEVEL) * HASH_SIZE || known.compare(node, 0, HASH_SIZE, 0, HASH_SIZE) !== 0) return false;
  for (let i = SHARED_LEVEL, at = HASH_SIZE; i < path.length; i++, at += HASH_SIZE) {
    if (known.compare(path[i]!, 0, HASH_SIZE, at, at + HASH_SIZE) !== 0) return false;
  }
  return true;
}
