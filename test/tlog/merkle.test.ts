import { test } from "node:test";
import assert from "node:assert/strict";
import {
  CompactRange,
  consistencyProof,
  EMPTY_ROOT,
  floorLog2,
  inclusionProof,
  leafHash,
  leafHashEquals,
  nodeHash,
  popcount,
  rootFromLeafHashes,
  subtreeOfLeaves,
  treeRoot,
  verifyConsistency,
  verifyInclusion,
  type NodeSource,
} from "../../src/tlog/merkle.js";
import { nodeId } from "../../src/tlog/schema.js";
import { readFixture } from "../fixtures.js";
import { naiveConsistency, naiveLeafHash, naiveNodeHash, naivePath, naivePathShape, naiveRoot, prng } from "./naive.js";

interface TlogVectors {
  empty_root: string;
  leaves: { index: number; leaf_data: string; leaf_hash: string }[];
  roots: { tree_size: number; root: string }[];
  inclusion_proofs: { index: number; tree_size: number; proof: string[]; root: string }[];
}

const vectors = readFixture<TlogVectors>("tlog-vectors.json");
const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

/** Every complete subtree of a list of leaf hashes, built with the naive hashing; counts reads. */
class MemorySource implements NodeSource {
  readonly levels: Buffer[][];
  reads = 0;
  constructor(hashes: Buffer[]) {
    this.levels = [hashes];
    for (let below = hashes; below.length >= 2; ) {
      const level: Buffer[] = [];
      for (let i = 0; i + 1 < below.length; i += 2) level.push(naiveNodeHash(below[i]!, below[i + 1]!));
      this.levels.push(level);
      below = level;
    }
  }
  node(level: number, index: number): Buffer {
    this.reads++;
    const hash = this.levels[level]?.[index];
    if (!hash) throw new Error(`no node ${level}/${index}`);
    return hash;
  }
}

const leavesOf = (n: number, seed = 1): Buffer[] => {
  const rand = prng(seed);
  return Array.from({ length: n }, (_, i) => naiveLeafHash(Buffer.from(`leaf ${i} ${rand(1e9)}`)));
};

const flipBit = (b: Buffer, bit: number): Buffer => {
  const c = Buffer.from(b);
  c[bit >> 3]! ^= 1 << (bit & 7);
  return c;
};

test("fixture: leaf hashes, roots 1..70, empty root", () => {
  assert.equal(hex(EMPTY_ROOT), vectors.empty_root);
  assert.equal(hex(rootFromLeafHashes([])), vectors.empty_root);
  for (const leaf of vectors.leaves) assert.equal(hex(leafHash(Buffer.from(leaf.leaf_data, "utf8"))), leaf.leaf_hash);
  const hashes = vectors.leaves.map((l) => Buffer.from(l.leaf_hash, "hex"));
  const range = new CompactRange();
  const src = new MemorySource(hashes);
  assert.equal(vectors.roots.length, 70);
  for (const { tree_size, root } of vectors.roots) {
    assert.equal(hex(rootFromLeafHashes(hashes.slice(0, tree_size))), root, `size ${tree_size}`);
    assert.equal(hex(treeRoot(src, tree_size)), root, `size ${tree_size}`);
    while (range.size < tree_size) range.append(hashes[range.size]!);
    assert.equal(hex(range.root()), root);
  }
});

test("fixture: inclusion proofs are reproduced and verify", () => {
  const hashes = vectors.leaves.map((l) => Buffer.from(l.leaf_hash, "hex"));
  const src = new MemorySource(hashes);
  assert.ok(vectors.inclusion_proofs.length > 0);
  for (const { index, tree_size, proof, root } of vectors.inclusion_proofs) {
    assert.deepEqual(inclusionProof(src, index, tree_size).map(hex), proof, `${index}/${tree_size}`);
    const p = proof.map((h) => Buffer.from(h, "hex"));
    assert.equal(verifyInclusion(hashes[index]!, index, tree_size, p, Buffer.from(root, "hex")), true);
  }
});

test("naive reference agrees with the fixture", () => {
  const hashes = vectors.leaves.map((l) => Buffer.from(l.leaf_hash, "hex"));
  for (const { tree_size, root } of vectors.roots) assert.equal(hex(naiveRoot(hashes.slice(0, tree_size))), root);
  for (const { index, tree_size, proof } of vectors.inclusion_proofs) {
    assert.deepEqual(naivePath(index, hashes.slice(0, tree_size)).map(hex), proof);
  }
});

test("every size 1..300: roots, inclusion and consistency proofs equal the naive reference", () => {
  const all = leavesOf(300);
  const src = new MemorySource(all);
  const rand = prng(7);
  const fullSizes = new Set([1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 100, 127, 128, 129, 255, 256, 257, 300]);
  const roots = [EMPTY_ROOT];
  for (let n = 1; n <= 300; n++) roots.push(naiveRoot(all.slice(0, n)));
  for (let n = 1; n <= 300; n++) {
    const hashes = all.slice(0, n);
    assert.deepEqual(treeRoot(src, n), roots[n], `root ${n}`);
    const indexes = fullSizes.has(n) ? [...Array(n).keys()] : [0, n - 1, n >> 1, rand(n), rand(n)];
    for (const i of indexes) {
      const proof = inclusionProof(src, i, n);
      assert.deepEqual(proof, naivePath(i, hashes), `inclusion ${i}/${n}`);
      assert.ok(verifyInclusion(all[i]!, i, n, proof, roots[n]!), `verify inclusion ${i}/${n}`);
    }
    const firsts = fullSizes.has(n) ? [...Array(n + 1).keys()] : [0, 1, n - 1, n, rand(n + 1), rand(n + 1)];
    for (const m of firsts) {
      const proof = consistencyProof(src, m, n);
      assert.deepEqual(proof, m === 0 || m === n ? [] : naiveConsistency(m, hashes), `consistency ${m}->${n}`);
      assert.ok(verifyConsistency(m, n, proof, roots[m]!, roots[n]!), `verify consistency ${m}->${n}`);
    }
  }
});

test("random pairs of larger sizes agree with the naive reference", () => {
  const all = leavesOf(4000, 3);
  const src = new MemorySource(all);
  const rand = prng(11);
  for (let round = 0; round < 25; round++) {
    const n = 1 + rand(4000);
    const m = rand(n + 1);
    const i = rand(n);
    const hashes = all.slice(0, n);
    const root = naiveRoot(hashes);
    const firstRoot = naiveRoot(all.slice(0, m));
    assert.deepEqual(treeRoot(src, n), root);
    const inclusion = inclusionProof(src, i, n);
    assert.deepEqual(inclusion, naivePath(i, hashes), `inclusion ${i}/${n}`);
    assert.ok(verifyInclusion(all[i]!, i, n, inclusion, root));
    const consistency = consistencyProof(src, m, n);
    assert.deepEqual(consistency, m === 0 || m === n ? [] : naiveConsistency(m, hashes), `consistency ${m}->${n}`);
    assert.ok(verifyConsistency(m, n, consistency, firstRoot, root));
  }
});

test("proof construction reads O(log n) nodes", () => {
  const all = leavesOf(4000, 5);
  const src = new MemorySource(all);
  const rand = prng(13);
  for (let round = 0; round < 500; round++) {
    const n = 1 + rand(4000);
    const bound = 2 * (floorLog2(n) + 1);
    src.reads = 0;
    treeRoot(src, n);
    assert.ok(src.reads <= floorLog2(n) + 1, `root of ${n}: ${src.reads} reads`);
    src.reads = 0;
    inclusionProof(src, rand(n), n);
    assert.ok(src.reads <= bound, `inclusion in ${n}: ${src.reads} reads`);
    src.reads = 0;
    consistencyProof(src, rand(n + 1), n);
    assert.ok(src.reads <= bound, `consistency to ${n}: ${src.reads} reads`);
  }
});

test("flipping any bit of a proof, leaf or root breaks an inclusion proof", () => {
  const all = leavesOf(77, 17);
  const src = new MemorySource(all);
  for (const [i, n] of [
    [0, 77],
    [76, 77],
    [40, 64],
    [5, 6],
  ] as const) {
    const root = treeRoot(src, n);
    const proof = inclusionProof(src, i, n);
    assert.ok(verifyInclusion(all[i]!, i, n, proof, root));
    for (let bit = 0; bit < 256; bit++) {
      assert.equal(verifyInclusion(flipBit(all[i]!, bit), i, n, proof, root), false);
      assert.equal(verifyInclusion(all[i]!, i, n, proof, flipBit(root, bit)), false);
      for (let j = 0; j < proof.length; j++) {
        const bad = proof.map((p, k) => (k === j ? flipBit(p, bit) : p));
        assert.equal(verifyInclusion(all[i]!, i, n, bad, root), false, `bit ${bit} of hash ${j}`);
      }
    }
  }
});

test("inclusion proofs fail for a wrong index, size or shape", () => {
  const all = leavesOf(100, 19);
  const src = new MemorySource(all);
  for (let n = 1; n <= 100; n += 3) {
    const root = treeRoot(src, n);
    for (let i = 0; i < n; i += 5) {
      const proof = inclusionProof(src, i, n);
      const leaf = all[i]!;
      assert.equal(verifyInclusion(leaf, i, n, proof, root), true);
      for (let other = 0; other < n; other++) {
        if (other !== i) assert.equal(verifyInclusion(leaf, other, n, proof, root), false, `index ${other} for ${i}/${n}`);
      }
      for (let size = i + 1; size <= n + 8; size++) {
        if (size === n) continue;
        const sameShape = naivePathShape(i, size) === naivePathShape(i, n);
        assert.equal(verifyInclusion(leaf, i, size, proof, root), sameShape, `size ${size} for ${i}/${n}`);
      }
      assert.equal(verifyInclusion(leaf, i, n, [...proof, EMPTY_ROOT], root), false);
      if (proof.length > 0) assert.equal(verifyInclusion(leaf, i, n, proof.slice(1), root), false);
      assert.equal(verifyInclusion(leaf, n, n, proof, root), false);
      assert.equal(verifyInclusion(leaf, -1, n, proof, root), false);
      assert.equal(verifyInclusion(leaf, i + 0.5, n, proof, root), false);
      assert.equal(verifyInclusion(leaf, i, n, [Buffer.alloc(31), ...proof.slice(1)], root), false);
      assert.equal(verifyInclusion(leaf.subarray(0, 31), i, n, proof, root), false);
    }
  }
});

test("consistency proofs: edge cases and any flipped bit or hash fails", () => {
  const all = leavesOf(100, 23);
  const src = new MemorySource(all);
  const root = (n: number) => treeRoot(src, n);
  assert.equal(verifyConsistency(0, 0, [], EMPTY_ROOT, EMPTY_ROOT), true);
  assert.equal(verifyConsistency(0, 50, [], EMPTY_ROOT, root(50)), true);
  assert.equal(verifyConsistency(0, 50, [], root(1), root(50)), false);
  assert.equal(verifyConsistency(0, 50, [root(1)], EMPTY_ROOT, root(50)), false);
  assert.equal(verifyConsistency(50, 50, [], root(50), root(50)), true);
  assert.equal(verifyConsistency(50, 50, [], root(49), root(50)), false);
  assert.equal(verifyConsistency(50, 50, [root(50)], root(50), root(50)), false);
  assert.equal(verifyConsistency(51, 50, [], root(50), root(50)), false);
  assert.deepEqual(consistencyProof(src, 0, 50), []);
  assert.deepEqual(consistencyProof(src, 50, 50), []);
  assert.throws(() => consistencyProof(src, 51, 50), RangeError);
  assert.throws(() => inclusionProof(src, 50, 50), RangeError);

  for (const [m, n] of [
    [1, 2],
    [3, 7],
    [4, 8],
    [6, 8],
    [13, 100],
    [64, 100],
    [99, 100],
  ] as const) {
    const proof = consistencyProof(src, m, n);
    assert.ok(verifyConsistency(m, n, proof, root(m), root(n)), `${m}->${n}`);
    for (let bit = 0; bit < 256; bit += 7) {
      assert.equal(verifyConsistency(m, n, proof, flipBit(root(m), bit), root(n)), false);
      assert.equal(verifyConsistency(m, n, proof, root(m), flipBit(root(n), bit)), false);
      for (let j = 0; j < proof.length; j++) {
        const bad = proof.map((p, k) => (k === j ? flipBit(p, bit) : p));
        assert.equal(verifyConsistency(m, n, bad, root(m), root(n)), false, `${m}->${n} bit ${bit} of hash ${j}`);
      }
    }
    for (let j = 0; j < proof.length; j++) {
      const swapped = proof.map((p, k) => (k === j ? EMPTY_ROOT : p));
      assert.equal(verifyConsistency(m, n, swapped, root(m), root(n)), false);
    }
    assert.equal(verifyConsistency(m, n, proof.slice(0, -1), root(m), root(n)), false);
    assert.equal(verifyConsistency(m, n, [...proof, EMPTY_ROOT], root(m), root(n)), false);
    // Like inclusion proofs, consistency proofs do not commit to the sizes
    // beyond their shape; a proof of another length can never pass.
    for (let other = 1; other <= 100; other++) {
      if (other > m && other !== n && consistencyProof(src, m, other).length !== proof.length) {
        assert.equal(verifyConsistency(m, other, proof, root(m), root(n)), false, `second ${other} for ${m}->${n}`);
      }
      if (other < n && other !== m && consistencyProof(src, other, n).length !== proof.length) {
        assert.equal(verifyConsistency(other, n, proof, root(m), root(n)), false, `first ${other} for ${m}->${n}`);
      }
    }
  }
});

test("CompactRange: reports completed nodes, round-trips through JSON, rejects bad input", () => {
  const all = leavesOf(300, 29);
  const src = new MemorySource(all);
  const range = new CompactRange();
  const seen: string[] = [];
  for (const h of all) {
    range.append(h, (level, index, hash) => {
      assert.deepEqual(hash, src.levels[level]![index], `node ${level}/${index}`);
      seen.push(`${level}/${index}`);
    });
    const copy = CompactRange.fromJSON(JSON.parse(JSON.stringify(range)));
    assert.equal(copy.size, range.size);
    assert.deepEqual(copy.root(), range.root());
    assert.equal(copy.hashes.length, popcount(range.size));
  }
  assert.equal(
    seen.length,
    src.levels.slice(1).reduce((s, l) => s + l.length, 0),
  );
  assert.deepEqual(range.root(), naiveRoot(all));
  const json = range.toJSON();
  assert.equal(json.size, 300);
  assert.throws(() => CompactRange.fromJSON({ size: 301, peaks: json.peaks }), TypeError);
  assert.throws(() => CompactRange.fromJSON({ size: 300, peaks: json.peaks.slice(1) }), TypeError);
  assert.throws(() => CompactRange.fromJSON({ size: 300, peaks: [...json.peaks.slice(1), "zz"] }), TypeError);
  assert.throws(() => CompactRange.fromJSON({ size: -1, peaks: [] }), TypeError);
  assert.throws(() => CompactRange.fromJSON(null), TypeError);
  assert.throws(() => range.append(Buffer.alloc(31)), TypeError);
});

test("nodeHash and leafHash follow RFC 6962 domain separation", () => {
  const a = Buffer.alloc(32, 0xaa);
  const b = Buffer.alloc(32, 0xbb);
  assert.deepEqual(nodeHash(a, b), naiveNodeHash(a, b));
  assert.notDeepEqual(nodeHash(a, b), nodeHash(b, a));
  for (const size of [0, 1, 300, 65_535, 65_536, 100_000]) {
    const data = Buffer.alloc(size, size & 0xff);
    assert.deepEqual(leafHash(data), naiveLeafHash(data), `${size} bytes`);
  }
  assert.notDeepEqual(leafHash(Buffer.concat([a, b])), nodeHash(a, b));
});

test("integer helpers are exact past 2^32", () => {
  for (const n of [1, 2, 3, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 32 + 1, 2 ** 40 + 12345, 2 ** 52 - 1, 2 ** 53 - 1]) {
    assert.equal(floorLog2(n), BigInt(n).toString(2).length - 1, `floorLog2(${n})`);
    assert.equal(popcount(n), [...BigInt(n).toString(2)].filter((c) => c === "1").length, `popcount(${n})`);
  }
  // Post-order keys: leaf L at 2L - popcount(L), then the subtrees it completes.
  let next = 0;
  for (let leaf = 0; leaf < 1024; leaf++) {
    assert.equal(nodeId(0, leaf), next++);
    for (let level = 1; (leaf + 1) % 2 ** level === 0; level++) assert.equal(nodeId(level, (leaf + 1) / 2 ** level - 1), next++);
  }
  const big = 2 ** 45 + 777;
  const expected = 2n * BigInt(big) - BigInt(popcount(big));
  assert.equal(BigInt(nodeId(0, big)), expected);
});

test("a source that knows a range's hash is asked for it and spares the node reads", () => {
  const hashes = leavesOf(1000, 7);
  const full = new MemorySource(hashes);
  const ranges: string[] = [];
  const knowing: NodeSource = {
    node: (level, index) => full.node(level, index),
    // The right edge of the tree of 1,000, as a store knows it at its current size.
    range: (start, end) => {
      ranges.push(`${start}-${end}`);
      return end === 1000 ? naiveRoot(hashes.slice(start)) : undefined;
    },
  };
  assert.deepEqual(inclusionProof(knowing, 999, 1000), naivePath(999, hashes), "a leaf whose path has no range at the edge");
  for (const index of [0, 511, 512, 900]) {
    full.reads = 0;
    assert.deepEqual(inclusionProof(knowing, index, 1000), naivePath(index, hashes), `leaf ${index}`);
    const withKnownRanges = full.reads;
    full.reads = 0;
    inclusionProof(full, index, 1000);
    assert.ok(withKnownRanges < full.reads, `leaf ${index}: ${withKnownRanges} reads, ${full.reads} without the known ranges`);
  }
  assert.ok(ranges.includes("512-1000"));
  assert.deepEqual(treeRoot(knowing, 1000), naiveRoot(hashes));
});

test("subtreeOfLeaves hashes a complete subtree from a run of leaf hashes", () => {
  const hashes = leavesOf(40, 9);
  const full = new MemorySource(hashes);
  const run = Buffer.concat(hashes.slice(16, 32));
  for (const [level, index] of [
    [0, 16],
    [0, 31],
    [1, 9],
    [2, 6],
    [3, 3],
    [4, 1],
  ] as const) {
    assert.deepEqual(subtreeOfLeaves(run, 16, level, index), full.node(level, index), `${level}/${index}`);
  }
  assert.throws(() => subtreeOfLeaves(run, 16, 0, 32), RangeError);
  assert.throws(() => subtreeOfLeaves(run, 16, 2, 3), RangeError);
});

test("leafHashEquals: true exactly when the bytes at the offset are the leaf's hash, for short and long leaves", () => {
  for (const data of [Buffer.alloc(0), Buffer.from("a leaf"), Buffer.alloc(70_000, 0xff)]) {
    const hashes = Buffer.concat([Buffer.alloc(5, 0xaa), naiveLeafHash(data), Buffer.alloc(3)]);
    assert.equal(leafHashEquals(data, hashes, 5), true);
    assert.equal(leafHashEquals(data, hashes, 4), false);
    for (const at of [5, 20, 36]) {
      const wrong = Buffer.from(hashes);
      wrong[at]! ^= 1;
      assert.equal(leafHashEquals(data, wrong, 5), false, `a flipped byte at ${at - 5}`);
    }
  }
});
