import assert from "node:assert/strict";
import { test } from "node:test";
import { parseHex, toHex, utf8 } from "../../src/verify/bytes.js";
import { EMPTY_ROOT_BYTES, nobleHasher, verifyConsistency, verifyInclusion } from "../../src/verify/rfc6962.js";
import { leafHash, nodeHash } from "../../src/tlog/merkle.js";
import { readFixture } from "../fixtures.js";

const vectors = readFixture("tlog-vectors.json");
const hex = (h: string) => parseHex(h, 32)!;

test("the pure hasher gives the reference leaf hashes and the empty root", () => {
  assert.equal(toHex(EMPTY_ROOT_BYTES), vectors.empty_root);
  for (const leaf of vectors.leaves) assert.equal(toHex(nobleHasher.leaf(utf8(leaf.leaf_data))), leaf.leaf_hash, `leaf ${leaf.index}`);
});

test("the pure and the server's OpenSSL hasher agree", () => {
  const a = hex(vectors.leaves[0].leaf_hash);
  const b = hex(vectors.leaves[1].leaf_hash);
  assert.equal(toHex(nobleHasher.node(a, b)), toHex(nodeHash(a, b)));
  assert.equal(toHex(nobleHasher.leaf(utf8("x"))), toHex(leafHash(utf8("x"))));
});

test("every reference inclusion proof verifies with the pure hasher, and none with a flipped hash", () => {
  for (const p of vectors.inclusion_proofs) {
    const leaf = hex(vectors.leaves[p.index].leaf_hash);
    const proof = p.proof.map(hex);
    assert.ok(verifyInclusion(leaf, p.index, p.tree_size, proof, hex(p.root)), `${p.index}/${p.tree_size}`);
    if (proof.length > 0) {
      const bad = proof.map((h: Uint8Array) => h.slice());
      bad[0]![0] ^= 1;
      assert.equal(verifyInclusion(leaf, p.index, p.tree_size, bad, hex(p.root)), false);
    }
  }
});

test("consistency from the empty tree and to the same tree needs no proof; anything else malformed is refused", () => {
  const root = hex(vectors.signed_head.root);
  assert.ok(verifyConsistency(0, 70, [], EMPTY_ROOT_BYTES, root));
  assert.ok(verifyConsistency(70, 70, [], root, root));
  assert.equal(verifyConsistency(70, 69, [], root, root), false);
  assert.equal(verifyConsistency(3, 70, [], root, root), false);
});
