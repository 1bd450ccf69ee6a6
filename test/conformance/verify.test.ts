/**
 * The harness's own verifiers (an independent second implementation) checked
 * against the fixtures, so a harness bug cannot pass a wrong registry.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  EMPTY_ROOT,
  canonicalize,
  leafHash,
  nodeHash,
  parseCheckpoint,
  parseVerifierKey,
  rootFromLeafHashes,
  verifyConsistency,
  verifyEd25519,
  verifyInclusion,
  verifyNote,
} from "../../conformance/verify.js";
import { readFixture } from "../fixtures.js";

const hex = (s: string) => Buffer.from(s, "hex");

test("harness JCS matches every vector byte for byte", () => {
  const { vectors } = readFixture<{ vectors: { input: unknown; canonical: string }[] }>("jcs-vectors.json");
  for (const vector of vectors) assert.equal(canonicalize(vector.input), vector.canonical);
});

test("harness RFC 6962 code matches the tlog vectors and rejects tampered proofs", () => {
  const v = readFixture("tlog-vectors.json");
  assert.equal(EMPTY_ROOT.toString("hex"), v.empty_root);
  const hashes = v.leaves.map((leaf: { leaf_data: string; leaf_hash: string }) => {
    const hash = leafHash(Buffer.from(leaf.leaf_data, "utf8"));
    assert.equal(hash.toString("hex"), leaf.leaf_hash);
    return hash;
  });
  for (const { tree_size, root } of v.roots) assert.equal(rootFromLeafHashes(hashes.slice(0, tree_size)).toString("hex"), root);
  for (const p of v.inclusion_proofs) {
    const proof = p.proof.map(hex);
    assert.ok(verifyInclusion(hashes[p.index], p.index, p.tree_size, proof, hex(p.root)));
    if (proof.length > 0) {
      proof[0] = nodeHash(proof[0], proof[0]);
      assert.ok(!verifyInclusion(hashes[p.index], p.index, p.tree_size, proof, hex(p.root)));
    }
  }
  const head = v.signed_head;
  assert.ok(verifyEd25519(hex(v.registry_pub), Buffer.from(head.signed_message), hex(head.signature)));
  assert.ok(verifyConsistency(0, 70, [], EMPTY_ROOT, hex(head.root)));
  assert.ok(verifyConsistency(70, 70, [], hex(head.root), hex(head.root)));
});

test("harness signed-note verifier accepts the published C2SP example", () => {
  const { signed_note } = readFixture("c2sp-vectors.json");
  const key = parseVerifierKey(signed_note.verifier_key);
  assert.equal(verifyNote(signed_note.note, key), signed_note.text);
  assert.throws(() => verifyNote(signed_note.note.replace("example message", "exemple message"), key));
  assert.throws(() => parseCheckpoint("origin\nnot-a-size\nAAAA\n"));
});
