import { test } from "node:test";
import assert from "node:assert/strict";
import { InclusionCheck, SHARED_LEVEL } from "../../src/tlog/inclusion-check.js";
import { naiveLeafHash, naivePath, naiveRoot } from "./naive.js";

const SIZE = 3 * 2 ** SHARED_LEVEL + 100;
const hashes = Array.from({ length: SIZE }, (_, i) => naiveLeafHash(Buffer.from(`leaf ${i}`)));
const root = naiveRoot(hashes);
const flipped = (hash: Buffer) => {
  const copy = Buffer.from(hash);
  copy[5]! ^= 1;
  return copy;
};

test("every valid proof passes, the first time and again, in the shared subtrees and past them", () => {
  const check = new InclusionCheck();
  const leaves = [0, 1, 1023, 1024, 2047, 2500, 3071, 3072, SIZE - 1];
  for (const pass of [1, 2]) {
    for (const i of leaves) assert.equal(check.check(hashes[i]!, i, SIZE, naivePath(i, hashes), root), true, `${i}, pass ${pass}`);
  }
});

test("a proof that does not verify is refused even after a proof through the same subtree passed", () => {
  const check = new InclusionCheck();
  const i = 1500;
  const path = naivePath(i, hashes);
  assert.equal(check.check(hashes[i]!, i, SIZE, path, root), true);
  const j = 1501;
  const good = naivePath(j, hashes);
  assert.equal(check.check(hashes[j]!, j, SIZE, good, root), true);
  for (const level of [0, SHARED_LEVEL - 1, SHARED_LEVEL, good.length - 1]) {
    const bad = good.map((hash, at) => (at === level ? flipped(hash) : hash));
    assert.equal(check.check(hashes[j]!, j, SIZE, bad, root), false, `hash ${level} changed`);
  }
  assert.equal(check.check(flipped(hashes[j]!), j, SIZE, good, root), false, "another leaf");
  assert.equal(check.check(hashes[j]!, j + 1, SIZE, good, root), false, "another index");
  assert.equal(check.check(hashes[j]!, j, SIZE, good, flipped(root)), false, "another root");
  assert.equal(check.check(hashes[j]!, j, SIZE, [...good, root], root), false, "a hash too many");
  assert.equal(check.check(hashes[j]!, j, SIZE, good.slice(0, -1), root), false, "a hash too few");
  assert.equal(
    check.check(
      hashes[j]!,
      j,
      SIZE,
      good.map((hash, at) => (at === good.length - 2 ? hash.subarray(0, 31) : hash)),
      root,
    ),
    false,
    "a short hash",
  );
  assert.equal(check.check(hashes[j]!, j, SIZE, good, root), true, "the good proof still passes");
});

test("at another size the proofs of that size pass and the old ones are refused", () => {
  const check = new InclusionCheck();
  const smaller = 2 * 2 ** SHARED_LEVEL + 7;
  const smallerRoot = naiveRoot(hashes.slice(0, smaller));
  for (const i of [5, 1030]) assert.equal(check.check(hashes[i]!, i, SIZE, naivePath(i, hashes), root), true);
  for (const i of [5, 1030]) {
    const path = naivePath(i, hashes.slice(0, smaller));
    assert.equal(check.check(hashes[i]!, i, smaller, path, smallerRoot), true, `${i} at ${smaller}`);
    assert.equal(check.check(hashes[i]!, i, smaller, naivePath(i, hashes), smallerRoot), false, `${i}: a proof of the larger size`);
    assert.equal(check.check(hashes[i]!, i, SIZE, path, root), false, `${i}: a proof of the smaller size`);
  }
});
