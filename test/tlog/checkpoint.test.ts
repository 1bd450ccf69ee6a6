import { test } from "node:test";
import assert from "node:assert/strict";
import { signerFromSeed, verifyEd25519 } from "../../src/core/ed25519.js";
import { formatCheckpointBody, parseCheckpointBody, signCheckpoint, verifyCheckpoint } from "../../src/tlog/checkpoint.js";
import { NoteError, noteKeyId, signNote, verifierKey } from "../../src/tlog/note.js";
import { readFixture } from "../fixtures.js";

const vectors = readFixture("tlog-vectors.json");
const ROOT70 = Buffer.from(vectors.signed_head.root, "hex");
const ORIGIN = "registry.example/oversight-registry";
const signer = signerFromSeed(Buffer.alloc(32, 3));
const vkey = verifierKey(ORIGIN, signer.publicKey);

test("the body is origin, decimal size and base64 root, one per line", () => {
  const body = formatCheckpointBody({ origin: ORIGIN, size: 70, root: ROOT70 });
  assert.equal(body, `${ORIGIN}\n70\n${ROOT70.toString("base64")}\n`);
  assert.deepEqual(
    { ...parseCheckpointBody(body), root: Buffer.from(parseCheckpointBody(body).root) },
    { origin: ORIGIN, size: 70, root: ROOT70, extensions: [] },
  );
  const empty = formatCheckpointBody({ origin: ORIGIN, size: 0, root: Buffer.from(vectors.empty_root, "hex") });
  assert.equal(empty, `${ORIGIN}\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n`);
});

test("extension lines are kept in order", () => {
  const body = `${formatCheckpointBody({ origin: ORIGIN, size: 5, root: ROOT70 })}ext one\n— not a signature\n`;
  assert.deepEqual(parseCheckpointBody(body).extensions, ["ext one", "— not a signature"]);
});

test("a signed checkpoint has the CONTRACT shape and verifies", () => {
  const note = signCheckpoint({ origin: ORIGIN, size: 70, root: ROOT70 }, signer);
  const body = `${ORIGIN}\n70\n${ROOT70.toString("base64")}\n`;
  assert.ok(note.startsWith(`${body}\n\u2014 ${ORIGIN} `), note);
  assert.ok(note.endsWith("\n"));
  const blob = Buffer.from(
    note
      .slice(body.length + 1)
      .split(" ")[2]!
      .trimEnd(),
    "base64",
  );
  assert.deepEqual(blob.subarray(0, 4), Buffer.from(noteKeyId(ORIGIN, signer.publicKey)));
  assert.equal(verifyEd25519(signer.publicKey, Buffer.from(body, "utf8"), blob.subarray(4)), true);
  const verified = verifyCheckpoint(note, vkey);
  assert.deepEqual({ ...verified, root: Buffer.from(verified.root) }, { origin: ORIGIN, size: 70, root: ROOT70, extensions: [] });
});

test("every fixture root round-trips through a signed checkpoint", () => {
  for (const { tree_size: size, root } of vectors.roots as { tree_size: number; root: string }[]) {
    const note = signCheckpoint({ origin: ORIGIN, size, root: Buffer.from(root, "hex") }, signer);
    const cp = verifyCheckpoint(note, vkey);
    assert.equal(cp.size, size);
    assert.equal(Buffer.from(cp.root).toString("hex"), root);
  }
});

test("tampered checkpoints fail", () => {
  const note = signCheckpoint({ origin: ORIGIN, size: 70, root: ROOT70 }, signer);
  const flipped = Buffer.from(ROOT70);
  flipped[0]! ^= 0x80;
  assert.throws(() => verifyCheckpoint(note.replace("\n70\n", "\n71\n"), vkey), NoteError);
  assert.throws(() => verifyCheckpoint(note.replace(ROOT70.toString("base64"), flipped.toString("base64")), vkey), NoteError);
  assert.throws(() => verifyCheckpoint(note, verifierKey(ORIGIN, signerFromSeed(Buffer.alloc(32, 4)).publicKey)), NoteError);
  assert.throws(() => verifyCheckpoint(note, verifierKey("other.example/log", signer.publicKey)), NoteError);
});

test("the body's origin must be the signing key's name", () => {
  const body = formatCheckpointBody({ origin: "other.example/log", size: 1, root: ROOT70 });
  const note = signNote(body, ORIGIN, signer);
  assert.throws(() => verifyCheckpoint(note, vkey), /origin/);
});

test("malformed bodies are rejected", () => {
  const root = ROOT70.toString("base64");
  const cases: Record<string, string> = {
    "no trailing newline": `${ORIGIN}\n70\n${root}`,
    "missing root": `${ORIGIN}\n70\n`,
    "empty origin": `\n70\n${root}\n`,
    "origin with space": `a b\n70\n${root}\n`,
    "leading zero": `${ORIGIN}\n070\n${root}\n`,
    "negative size": `${ORIGIN}\n-1\n${root}\n`,
    "plus sign": `${ORIGIN}\n+1\n${root}\n`,
    "fractional size": `${ORIGIN}\n1.0\n${root}\n`,
    "size with space": `${ORIGIN}\n 70\n${root}\n`,
    "size past 2^53": `${ORIGIN}\n9007199254740993\n${root}\n`,
    "root of 31 bytes": `${ORIGIN}\n70\n${ROOT70.subarray(1).toString("base64")}\n`,
    "root of 33 bytes": `${ORIGIN}\n70\n${Buffer.concat([ROOT70, Buffer.alloc(1)]).toString("base64")}\n`,
    "unpadded root": `${ORIGIN}\n70\n${root.replace(/=+$/, "")}\n`,
    "url-safe root": `${ORIGIN}\n70\n${Buffer.alloc(32, 0xfb).toString("base64url")}=\n`,
    "hex root": `${ORIGIN}\n70\n${Buffer.from(ROOT70).toString("hex")}\n`,
    "empty extension line": `${ORIGIN}\n70\n${root}\n\nextra\n`,
    "huge": `${ORIGIN}\n70\n${root}\n${"x".repeat(20_000)}\n`,
  };
  for (const [name, body] of Object.entries(cases)) assert.throws(() => parseCheckpointBody(body), NoteError, name);
});

test("formatCheckpointBody refuses what it could not parse back", () => {
  assert.throws(() => formatCheckpointBody({ origin: "", size: 1, root: ROOT70 }), NoteError);
  assert.throws(() => formatCheckpointBody({ origin: "a\nb", size: 1, root: ROOT70 }), NoteError);
  assert.throws(() => formatCheckpointBody({ origin: "a+b", size: 1, root: ROOT70 }), NoteError);
  assert.throws(() => formatCheckpointBody({ origin: ORIGIN, size: -1, root: ROOT70 }), NoteError);
  assert.throws(() => formatCheckpointBody({ origin: ORIGIN, size: 1.5, root: ROOT70 }), NoteError);
  assert.throws(() => formatCheckpointBody({ origin: ORIGIN, size: 1, root: Buffer.alloc(16) }), NoteError);
});
