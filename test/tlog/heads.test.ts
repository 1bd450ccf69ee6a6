import { test } from "node:test";
import assert from "node:assert/strict";
import { signerFromSeed } from "../../src/core/ed25519.js";
import { canonicalize } from "../../src/verify/jcs.js";
import { SignedTreeHeadSchema, signTreeHead, treeHeadMessage, verifyTreeHead, type SignedTreeHead } from "../../src/tlog/heads.js";
import { readFixture } from "../fixtures.js";

const vectors = readFixture("tlog-vectors.json");
const fixtureHead: SignedTreeHead = vectors.signed_head;
const fixturePub: string = vectors.registry_pub;
const signer = signerFromSeed(Buffer.alloc(32, 7));
const otherSigner = signerFromSeed(Buffer.alloc(32, 8));

/** Flips one bit of the hex string's byte `at`, keeping it lowercase hex of the same length. */
function flipHex(hex: string, at = 0): string {
  const bytes = Buffer.from(hex, "hex");
  bytes[at]! ^= 0x01;
  return bytes.toString("hex");
}

test("the reference registry's signed head verifies with its key", () => {
  assert.equal(verifyTreeHead(fixtureHead, fixturePub), true);
  assert.equal(verifyTreeHead(fixtureHead, Buffer.from(fixturePub, "hex")), true);
  assert.equal(fixtureHead.signed_message, treeHeadMessage(fixtureHead.size, fixtureHead.root));
  const rootAt70 = vectors.roots.find((r: { tree_size: number }) => r.tree_size === 70);
  assert.equal(fixtureHead.root, rootAt70.root);
});

test("the fixture head does not verify with another key", () => {
  assert.equal(verifyTreeHead(fixtureHead, signer.publicKey), false);
});

test("signTreeHead builds exactly the v1 shape, and it verifies", () => {
  const root = Buffer.from(fixtureHead.root, "hex");
  const head = signTreeHead(signer, 70, root);
  assert.deepEqual(Object.keys(head).sort(), ["root", "signature", "signed_message", "size"]);
  assert.equal(head.size, 70);
  assert.equal(head.root, fixtureHead.root);
  assert.equal(head.signed_message, canonicalize({ root: fixtureHead.root, size: 70 }));
  assert.equal(head.signed_message, fixtureHead.signed_message);
  assert.match(head.signature, /^[0-9a-f]{128}$/);
  assert.equal(verifyTreeHead(head, signer.publicKeyHex), true);
  assert.equal(verifyTreeHead(head, otherSigner.publicKey), false);
  assert.deepEqual(SignedTreeHeadSchema.parse(head), head);
});

test("the empty tree's head signs and verifies", () => {
  const head = signTreeHead(signer, 0, Buffer.from(vectors.empty_root, "hex"));
  assert.equal(head.signed_message, `{"root":"${vectors.empty_root}","size":0}`);
  assert.equal(verifyTreeHead(head, signer.publicKey), true);
});

test("tampering with any part of a head makes it fail", () => {
  const cases: [string, SignedTreeHead][] = [
    ["signature bit", { ...fixtureHead, signature: flipHex(fixtureHead.signature, 5) }],
    ["last signature bit", { ...fixtureHead, signature: flipHex(fixtureHead.signature, 63) }],
    ["root bit (field only)", { ...fixtureHead, root: flipHex(fixtureHead.root, 31) }],
    ["size (field only)", { ...fixtureHead, size: fixtureHead.size + 1 }],
    ["size smaller (field only)", { ...fixtureHead, size: fixtureHead.size - 1 }],
    ["message size", { ...fixtureHead, signed_message: fixtureHead.signed_message.replace(`"size":70`, `"size":71`) }],
    ["message root", { ...fixtureHead, signed_message: fixtureHead.signed_message.replace(fixtureHead.root, flipHex(fixtureHead.root)) }],
    ["size and message changed together", { ...fixtureHead, size: 71, signed_message: treeHeadMessage(71, fixtureHead.root) }],
    ["root and message changed together", { ...fixtureHead, root: flipHex(fixtureHead.root), signed_message: treeHeadMessage(70, flipHex(fixtureHead.root)) }],
    ["message with whitespace", { ...fixtureHead, signed_message: fixtureHead.signed_message.replace(",", ", ") }],
  ];
  for (const [name, head] of cases) assert.equal(verifyTreeHead(head, fixturePub), false, name);
});

test("a valid signature cannot be presented under another size or root", () => {
  const small = signTreeHead(signer, 5, Buffer.alloc(32, 1));
  assert.equal(verifyTreeHead({ ...small, size: 500 }, signer.publicKey), false);
  assert.equal(verifyTreeHead({ ...small, root: "02".repeat(32) }, signer.publicKey), false);
});

test("malformed heads are rejected by the schema and never verify", () => {
  const bad: unknown[] = [
    null,
    "head",
    {},
    { ...fixtureHead, size: -1 },
    { ...fixtureHead, size: 1.5 },
    { ...fixtureHead, size: "70" },
    { ...fixtureHead, size: Number.MAX_SAFE_INTEGER + 1 },
    { ...fixtureHead, root: fixtureHead.root.toUpperCase() },
    { ...fixtureHead, root: fixtureHead.root.slice(2) },
    { ...fixtureHead, signature: fixtureHead.signature.slice(0, 126) },
    { ...fixtureHead, signature: `${fixtureHead.signature.slice(0, 127)}g` },
    { size: fixtureHead.size, root: fixtureHead.root, signature: fixtureHead.signature },
  ];
  for (const head of bad) {
    assert.equal(SignedTreeHeadSchema.safeParse(head).success, false, JSON.stringify(head));
    assert.equal(verifyTreeHead(head, fixturePub), false, JSON.stringify(head));
  }
  assert.equal(verifyTreeHead(fixtureHead, "not a key"), false);
});

test("signTreeHead refuses sizes and roots it cannot represent", () => {
  assert.throws(() => signTreeHead(signer, -1, Buffer.alloc(32)), RangeError);
  assert.throws(() => signTreeHead(signer, 2.5, Buffer.alloc(32)), RangeError);
  assert.throws(() => signTreeHead(signer, Number.MAX_SAFE_INTEGER + 1, Buffer.alloc(32)), RangeError);
  assert.throws(() => signTreeHead(signer, 1, Buffer.alloc(31)), RangeError);
});
