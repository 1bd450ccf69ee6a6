/**
 * RFC 6962 §2.1 transcribed as literally as possible, for tests only: every
 * function recurses over the list of leaf hashes exactly as the RFC's
 * definitions do, with its own hashing. Slow on purpose; obviously right.
 */
import { createHash } from "node:crypto";

const sha256 = (...parts: Uint8Array[]): Buffer => {
  const h = createHash("sha256");
  for (const p of parts) h.update(p);
  return h.digest();
};

export const naiveLeafHash = (data: Uint8Array): Buffer => sha256(Buffer.from([0x00]), data);
export const naiveNodeHash = (left: Uint8Array, right: Uint8Array): Buffer => sha256(Buffer.from([0x01]), left, right);

/** The largest power of two smaller than n (n > 1). */
function k(n: number): number {
  let p = 1;
  while (p * 2 < n) p *= 2;
  return p;
}

/** MTH(D[n]) over leaf hashes. */
export function naiveRoot(hashes: readonly Buffer[]): Buffer {
  const n = hashes.length;
  if (n === 0) return sha256();
  if (n === 1) return hashes[0]!;
  return naiveNodeHash(naiveRoot(hashes.slice(0, k(n))), naiveRoot(hashes.slice(k(n))));
}

/** PATH(m, D[n]). */
export function naivePath(m: number, hashes: readonly Buffer[]): Buffer[] {
  const n = hashes.length;
  if (n === 1) return [];
  const split = k(n);
  if (m < split) return [...naivePath(m, hashes.slice(0, split)), naiveRoot(hashes.slice(split))];
  return [...naivePath(m - split, hashes.slice(split)), naiveRoot(hashes.slice(0, split))];
}

/**
 * Which side the path to leaf m takes at each level of a tree of n leaves,
 * bottom-up. An inclusion proof cannot tell apart two sizes with the same
 * shape for a leaf (leaf 0 in trees of 3 and 4 leaves, say): RFC 6962 proofs
 * do not commit to the size beyond it.
 */
export function naivePathShape(m: number, n: number): string {
  if (n === 1) return "";
  const split = k(n);
  return m < split ? naivePathShape(m, split) + "L" : naivePathShape(m - split, n - split) + "R";
}

/** SUBPROOF(m, D[n], b). */
function subproof(m: number, hashes: readonly Buffer[], b: boolean): Buffer[] {
  const n = hashes.length;
  if (m === n) return b ? [] : [naiveRoot(hashes)];
  const split = k(n);
  if (m <= split) return [...subproof(m, hashes.slice(0, split), b), naiveRoot(hashes.slice(split))];
  return [...subproof(m - split, hashes.slice(split), false), naiveRoot(hashes.slice(0, split))];
}

/** PROOF(m, D[n]) for 0 < m < n. */
export function naiveConsistency(m: number, hashes: readonly Buffer[]): Buffer[] {
  return subproof(m, hashes, true);
}

/** Deterministic PRNG (mulberry32) for the property tests, so a failure names a reproducible case. */
export function prng(seed: number): (below: number) => number {
  let a = seed >>> 0;
  return (below) => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return Math.floor((((t ^ (t >>> 14)) >>> 0) / 2 ** 32) * below);
  };
}
