import { test } from "node:test";
import assert from "node:assert/strict";
import { signerFromSeed, verifyEd25519 } from "../../src/core/ed25519.js";
import { NoteError, noteKeyId, parseVerifierKey, signNote, verifierKey, verifyNote } from "../../src/tlog/note.js";
import { readFixture } from "../fixtures.js";

const example = readFixture("c2sp-vectors.json").signed_note;
const signer = signerFromSeed(Buffer.alloc(32, 1));
const other = signerFromSeed(Buffer.alloc(32, 2));
const NAME = "registry.example/oversight-registry";

test("the published C2SP verifier key parses to its name, key id and key", () => {
  const v = parseVerifierKey(example.verifier_key);
  assert.equal(v.name, example.key_name);
  assert.equal(Buffer.from(v.keyId).toString("hex"), example.key_id_hex);
  assert.equal(v.publicKey.length, 32);
  assert.equal(Buffer.from(noteKeyId(example.key_name, v.publicKey)).toString("hex"), example.key_id_hex);
  assert.equal(verifierKey(example.key_name, v.publicKey), example.verifier_key);
});

test("the published C2SP note verifies with our verifier", () => {
  const opened = verifyNote(example.note, example.verifier_key);
  assert.equal(opened.text, example.text);
  assert.equal(opened.verified.length, 1);
  assert.equal(opened.verified[0]!.name, example.key_name);
  assert.equal(Buffer.from(opened.verified[0]!.keyId).toString("hex"), example.key_id_hex);
  assert.deepEqual(opened.unknown, []);
  assert.equal(verifyNote(Buffer.from(example.note, "utf8"), parseVerifierKey(example.verifier_key)).text, example.text);
});

test("signNote writes text, a blank line and one em-dash signature line", () => {
  const text = "line one\nline two\n";
  const note = signNote(text, NAME, signer);
  const keyId = noteKeyId(NAME, signer.publicKey);
  const match = /^line one\nline two\n\n\u2014 (\S+) ([A-Za-z0-9+/=]+)\n$/.exec(note);
  assert.ok(match, note);
  assert.equal(match[1], NAME);
  const blob = Buffer.from(match[2]!, "base64");
  assert.equal(blob.length, 68);
  assert.deepEqual(blob.subarray(0, 4), Buffer.from(keyId));
  assert.equal(verifyEd25519(signer.publicKey, Buffer.from(text, "utf8"), blob.subarray(4)), true);
  assert.equal(signNote(text, NAME, signer), note, "Ed25519 is deterministic");
  const opened = verifyNote(note, verifierKey(NAME, signer.publicKey));
  assert.equal(opened.text, text);
});

test("a verifier key is name+hex key id+base64(0x01 || key)", () => {
  const vkey = verifierKey(NAME, signer.publicKey);
  const [name, id, key] = vkey.split("+");
  assert.equal(name, NAME);
  assert.match(id!, /^[0-9a-f]{8}$/);
  assert.deepEqual(Buffer.from(key!, "base64"), Buffer.concat([Buffer.from([1]), signer.publicKey]));
  assert.deepEqual(Buffer.from(parseVerifierKey(vkey).publicKey), signer.publicKey);
});

test("signatures by unknown keys are ignored, but at least one known key must sign", () => {
  const text = "hello\n";
  const mine = signNote(text, NAME, signer);
  const theirs = signNote(text, "other.example/log", other);
  const both = mine + theirs.slice(text.length + 1);
  const opened = verifyNote(both, verifierKey(NAME, signer.publicKey));
  assert.equal(opened.verified.length, 1);
  assert.equal(opened.unknown.length, 1);
  assert.equal(opened.unknown[0]!.name, "other.example/log");
  const openedBoth = verifyNote(both, [verifierKey(NAME, signer.publicKey), verifierKey("other.example/log", other.publicKey)]);
  assert.equal(openedBoth.verified.length, 2);
  assert.throws(() => verifyNote(theirs, verifierKey(NAME, signer.publicKey)), NoteError);
  assert.throws(() => verifyNote(example.note, verifierKey(NAME, signer.publicKey)), NoteError);
  // Same name, different key: the key id differs, so the signature is not by a known key.
  assert.throws(() => verifyNote(mine, verifierKey(NAME, other.publicKey)), NoteError);
});

test("a bad signature by a known key rejects the note, even next to a good one", () => {
  const text = "hello\n";
  const note = signNote(text, NAME, signer);
  const vkey = verifierKey(NAME, signer.publicKey);
  const line = note.slice(text.length + 1);
  const blob = Buffer.from(line.slice(line.indexOf(" ", 2) + 1, -1), "base64");
  for (const at of [4, 40, 67]) {
    const bad = Buffer.from(blob);
    bad[at]! ^= 0x01;
    const badNote = `${text}\n\u2014 ${NAME} ${bad.toString("base64")}\n`;
    assert.throws(() => verifyNote(badNote, vkey), NoteError, `byte ${at}`);
    assert.throws(() => verifyNote(note + badNote.slice(text.length + 1), vkey), NoteError);
  }
});

test("changing the text invalidates the signature", () => {
  const note = signNote("size 10\n", NAME, signer);
  assert.throws(() => verifyNote(note.replace("size 10", "size 11"), verifierKey(NAME, signer.publicKey)), NoteError);
  assert.throws(() => verifyNote(example.note.replace("example", "exampel"), example.verifier_key), NoteError);
});

test("malformed notes are rejected with NoteError", () => {
  const vkey = example.verifier_key;
  const sigLine = example.note.slice(example.text.length + 1);
  const cases: Record<string, string | Uint8Array> = {
    "no trailing newline": example.note.slice(0, -1),
    "no blank line": example.text + sigLine,
    "hyphen instead of em dash": example.note.replace("\u2014", "-"),
    "no space after dash": example.note.replace("\u2014 ", "\u2014"),
    "empty signature block": example.text + "\n",
    "bad base64": example.note.replace("Uw2Q", "Uw2*"),
    "unpadded base64": example.note.replace("IneyaQM=", "IneyaQM"),
    "short signature": `${example.text}\n\u2014 example.com/foo AAAA\n`,
    "no signature after name": `${example.text}\n\u2014 example.com/foo\n`,
    "control character": example.note.replace("example message", "example\tmessage"),
    "carriage return": example.note.replace("message.\n", "message.\r\n"),
    "blank line inside the signature block": example.note + "\n" + sigLine,
    "invalid UTF-8": Buffer.concat([Buffer.from([0xff]), Buffer.from(example.note, "utf8")]),
    "lone surrogate": "\ud800" + example.note,
    "too many signatures": example.note + sigLine.repeat(100),
  };
  for (const [name, note] of Object.entries(cases)) assert.throws(() => verifyNote(note, vkey), NoteError, name);
});

test("malformed verifier keys are rejected", () => {
  const good = example.verifier_key;
  const [name, id, key] = good.split("+") as [string, string, string];
  const shortKey = Buffer.from(key, "base64").subarray(0, 32).toString("base64");
  const wrongAlg = Buffer.from(key, "base64");
  wrongAlg[0] = 2;
  const cases = [
    `${name}+${id}`,
    `${name}+${id}+${key}+extra`,
    `${name}+530d903b+${key}`,
    `${name}+530d903+${key}`,
    `${name}+530d903g+${key}`,
    `example.com/bar+${id}+${key}`,
    `+${id}+${key}`,
    `example .com+${id}+${key}`,
    `${name}+${id}+${shortKey}`,
    `${name}+${id}+${wrongAlg.toString("base64")}`,
    `${name}+${id}+${key.slice(0, -1)}`,
    `${name}+${id}+`,
  ];
  for (const vkey of cases) assert.throws(() => parseVerifierKey(vkey), NoteError, vkey);
  assert.equal(parseVerifierKey(`${name}+${id.toUpperCase()}+${key}`).name, name);
});

test("signNote refuses text and names it could not be opened with", () => {
  assert.throws(() => signNote("no newline", NAME, signer), NoteError);
  assert.throws(() => signNote("tab\there\n", NAME, signer), NoteError);
  assert.throws(() => signNote("ok\n", "has space", signer), NoteError);
  assert.throws(() => signNote("ok\n", "has+plus", signer), NoteError);
  assert.throws(() => signNote("ok\n", "", signer), NoteError);
  assert.throws(() => signNote("ok\n", "nbsp\u00a0name", signer), NoteError);
});

test("text with blank lines of its own still round-trips", () => {
  const text = "a\n\nb\n";
  const note = signNote(text, NAME, signer);
  assert.equal(verifyNote(note, verifierKey(NAME, signer.publicKey)).text, text);
});

test("verifier keys whose base64 contains '+' parse (only the first two '+' separate fields)", () => {
  for (let fill = 0; fill < 256; fill++) {
    const publicKey = Buffer.alloc(32, fill);
    const vkey = verifierKey("example.com/log", publicKey);
    assert.deepEqual(Buffer.from(parseVerifierKey(vkey).publicKey), Buffer.from(publicKey), vkey);
  }
  assert.ok([...Array(256).keys()].some((fill) => verifierKey("example.com/log", Buffer.alloc(32, fill)).split("+").length > 3));
});
