import assert from "node:assert/strict";
import { test } from "node:test";
import { toHex, utf8 } from "../../src/verify/bytes.js";
import { parseCheckpointBody } from "../../src/verify/checkpoint.js";
import { verifyEd25519 } from "../../src/verify/ed25519.js";
import { verifyTreeHead } from "../../src/verify/head.js";
import { verifyManifest } from "../../src/verify/manifest.js";
import { NoteError, parseVerifierKey, verifyNote } from "../../src/verify/note.js";
import { readFixture } from "../fixtures.js";

const tlog = readFixture("tlog-vectors.json");
const c2sp = readFixture("c2sp-vectors.json");
const manifests = readFixture("manifest-vectors.json");

test("the reference signed head verifies in pure JS, and not with another size or key", () => {
  assert.equal(verifyTreeHead(tlog.signed_head, tlog.registry_pub), true);
  assert.equal(verifyTreeHead({ ...tlog.signed_head, size: 71 }, tlog.registry_pub), false);
  assert.equal(verifyTreeHead(tlog.signed_head, "00".repeat(32)), false);
});

test("Ed25519 refuses malformed keys and signatures without throwing", () => {
  assert.equal(verifyEd25519("zz", utf8("m"), "00".repeat(64)), false);
  assert.equal(verifyEd25519(tlog.registry_pub, utf8(tlog.signed_head.signed_message), "ff".repeat(64)), false);
});

test("the published C2SP note verifies with its key and not after one changed byte", () => {
  const key = parseVerifierKey(c2sp.signed_note.verifier_key);
  assert.equal(toHex(key.keyId), c2sp.signed_note.key_id_hex);
  assert.equal(verifyNote(c2sp.signed_note.note, key).text, c2sp.signed_note.text);
  assert.throws(() => verifyNote(c2sp.signed_note.note.replace("example", "exampel"), key), NoteError);
});

test("a checkpoint body parses into origin, size and root bytes", () => {
  const root = new Uint8Array(32).fill(7);
  const parsed = parseCheckpointBody(`log.example/x\n70\n${btoa(String.fromCharCode(...root))}\n`);
  assert.equal(parsed.size, 70);
  assert.deepEqual(parsed.root, root);
});

test("the reference client's manifests verify in pure JS exactly as the vectors say", () => {
  for (const c of manifests.cases) {
    const verdict = verifyManifest(c.manifest);
    assert.equal(verdict.ok, c.valid, c.name);
    if (verdict.ok) assert.equal(new TextDecoder().decode(verdict.signedBytes), c.signed_bytes, c.name);
  }
});
