import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { verifyEd25519 } from "../../src/core/ed25519.js";
import { IDENTITY_FILE, IdentityError, loadOrCreateIdentity, readIdentity, writeIdentity } from "../../src/core/identity.js";
import { FIXTURES_DIR, readFixture } from "../fixtures.js";
import { tempDir } from "../temp.js";

const SEED = Buffer.from("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60", "hex");
const PUB = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";

const modeOf = (file: string): number => fs.statSync(file).mode & 0o777;

function writeRaw(dir: string, content: string, mode = 0o600): string {
  const file = path.join(dir, IDENTITY_FILE);
  fs.writeFileSync(file, content, { mode });
  fs.chmodSync(file, mode);
  return file;
}

test("loadOrCreateIdentity creates the data dir (0700) and a 0600 identity file", (t) => {
  const dataDir = path.join(tempDir(t, "identity-test-"), "nested", "data");
  const { identity, created } = loadOrCreateIdentity(dataDir);
  assert.equal(created, true);
  const file = path.join(dataDir, IDENTITY_FILE);
  if (process.platform !== "win32") {
    assert.equal(modeOf(dataDir), 0o700);
    assert.equal(modeOf(file), 0o600);
  }
  const json = JSON.parse(fs.readFileSync(file, "utf8"));
  assert.deepEqual(Object.keys(json).sort(), ["created_at", "ed25519_priv", "ed25519_pub"]);
  assert.equal(json.ed25519_priv, identity.seed.toString("hex"));
  assert.equal(json.ed25519_pub, identity.publicKeyHex);
  assert.equal(json.created_at, identity.createdAt);
  assert.ok(Number.isSafeInteger(json.created_at) && json.created_at > 0);
  assert.match(identity.publicKeyHex, /^[0-9a-f]{64}$/);
  assert.equal(identity.warning, undefined);
  // Nothing but the identity file is left behind (no temp files).
  assert.deepEqual(fs.readdirSync(dataDir), [IDENTITY_FILE]);
  const message = Buffer.from("head");
  assert.equal(verifyEd25519(identity.publicKeyHex, message, identity.signer.sign(message)), true);
});

test("loadOrCreateIdentity reuses an existing identity", (t) => {
  const dataDir = tempDir(t, "identity-test-");
  const first = loadOrCreateIdentity(dataDir);
  const before = fs.readFileSync(path.join(dataDir, IDENTITY_FILE), "utf8");
  const second = loadOrCreateIdentity(dataDir);
  assert.equal(second.created, false);
  assert.equal(second.identity.publicKeyHex, first.identity.publicKeyHex);
  assert.deepEqual(second.identity.seed, first.identity.seed);
  assert.equal(second.identity.createdAt, first.identity.createdAt);
  assert.equal(fs.readFileSync(path.join(dataDir, IDENTITY_FILE), "utf8"), before);
});

test("two data dirs get two different keys", (t) => {
  const a = loadOrCreateIdentity(tempDir(t, "identity-test-")).identity;
  const b = loadOrCreateIdentity(tempDir(t, "identity-test-")).identity;
  assert.notEqual(a.publicKeyHex, b.publicKeyHex);
});

test("readIdentity is null when there is no identity file", (t) => {
  assert.equal(readIdentity(tempDir(t, "identity-test-")), null);
  assert.equal(readIdentity(path.join(tempDir(t, "identity-test-"), "does-not-exist")), null);
});

test("writeIdentity writes the given seed and created_at atomically with mode 0600", (t) => {
  const dataDir = tempDir(t, "identity-test-");
  const written = writeIdentity(dataDir, SEED, 1700000000);
  assert.equal(written.publicKeyHex, PUB);
  const file = path.join(dataDir, IDENTITY_FILE);
  if (process.platform !== "win32") assert.equal(modeOf(file), 0o600);
  assert.deepEqual(JSON.parse(fs.readFileSync(file, "utf8")), {
    ed25519_priv: SEED.toString("hex"),
    ed25519_pub: PUB,
    created_at: 1700000000,
  });
  const read = readIdentity(dataDir);
  assert.ok(read);
  assert.equal(read.publicKeyHex, PUB);
  assert.equal(read.createdAt, 1700000000);
  assert.deepEqual(read.seed, SEED);
  // Replacing goes through a new file: the old one is swapped, never truncated in place.
  const other = Buffer.alloc(32, 7);
  writeIdentity(dataDir, other, 1700000001);
  assert.deepEqual(readIdentity(dataDir)?.seed, other);
  assert.deepEqual(fs.readdirSync(dataDir), [IDENTITY_FILE]);
});

test("writeIdentity refuses a seed that is not 32 bytes and a bad created_at", (t) => {
  const dataDir = tempDir(t, "identity-test-");
  assert.throws(() => writeIdentity(dataDir, Buffer.alloc(31)));
  assert.throws(() => writeIdentity(dataDir, SEED, 1.5));
  assert.throws(() => writeIdentity(dataDir, SEED, -1));
  assert.equal(readIdentity(dataDir), null);
});

test("the Python reference registry's identity file loads with the expected key", () => {
  const expected = readFixture<{ registry_pub: string }>("python-registry/EXPECTED.json");
  const identity = readIdentity(path.join(FIXTURES_DIR, "python-registry"));
  assert.ok(identity);
  assert.equal(identity.publicKeyHex, expected.registry_pub);
  assert.equal(identity.createdAt, 1795395279);
  const message = Buffer.from("checkpoint");
  assert.equal(verifyEd25519(expected.registry_pub, message, identity.signer.sign(message)), true);
});

test("uppercase hex in the file is accepted", (t) => {
  const dataDir = tempDir(t, "identity-test-");
  writeRaw(dataDir, JSON.stringify({ ed25519_priv: SEED.toString("hex").toUpperCase(), ed25519_pub: PUB.toUpperCase(), created_at: 1 }));
  assert.equal(readIdentity(dataDir)?.publicKeyHex, PUB);
});

const malformed: Array<[string, string, RegExp]> = [
  ["bad JSON", "{not json", /not valid JSON/],
  ["an empty file", "", /not valid JSON/],
  ["a JSON array", "[]", /malformed/],
  ["a missing ed25519_priv", JSON.stringify({ ed25519_pub: PUB, created_at: 1 }), /ed25519_priv/],
  ["a missing ed25519_pub", JSON.stringify({ ed25519_priv: SEED.toString("hex"), created_at: 1 }), /ed25519_pub/],
  ["a missing created_at", JSON.stringify({ ed25519_priv: SEED.toString("hex"), ed25519_pub: PUB }), /created_at/],
  ["a non-hex seed", JSON.stringify({ ed25519_priv: "zz" + SEED.toString("hex").slice(2), ed25519_pub: PUB, created_at: 1 }), /ed25519_priv/],
  ["a short seed", JSON.stringify({ ed25519_priv: SEED.toString("hex").slice(2), ed25519_pub: PUB, created_at: 1 }), /ed25519_priv/],
  ["a long pub", JSON.stringify({ ed25519_priv: SEED.toString("hex"), ed25519_pub: PUB + "00", created_at: 1 }), /ed25519_pub/],
  ["a float created_at", JSON.stringify({ ed25519_priv: SEED.toString("hex"), ed25519_pub: PUB, created_at: 1.5 }), /created_at/],
  ["a string created_at", JSON.stringify({ ed25519_priv: SEED.toString("hex"), ed25519_pub: PUB, created_at: "1" }), /created_at/],
  [
    "a pub that is not the seed's",
    JSON.stringify({ ed25519_priv: SEED.toString("hex"), ed25519_pub: "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", created_at: 1 }),
    /does not match/,
  ],
];

for (const [name, content, reason] of malformed) {
  test(`${name} is an IdentityError naming the file, and is never replaced`, (t) => {
    const dataDir = tempDir(t, "identity-test-");
    const file = writeRaw(dataDir, content);
    for (const load of [() => readIdentity(dataDir), () => loadOrCreateIdentity(dataDir)]) {
      assert.throws(load, (error: unknown) => {
        assert.ok(error instanceof IdentityError);
        assert.equal(error.path, file);
        assert.ok(error.message.includes(file), error.message);
        assert.match(error.message, reason);
        return true;
      });
    }
    assert.equal(fs.readFileSync(file, "utf8"), content);
    assert.deepEqual(fs.readdirSync(dataDir), [IDENTITY_FILE]);
  });
}

test("an identity path that is a directory is an IdentityError", (t) => {
  const dataDir = tempDir(t, "identity-test-");
  fs.mkdirSync(path.join(dataDir, IDENTITY_FILE));
  assert.throws(() => loadOrCreateIdentity(dataDir), IdentityError);
});

test("a file readable by others loads with a warning", { skip: process.platform === "win32" }, (t) => {
  const dataDir = tempDir(t, "identity-test-");
  writeIdentity(dataDir, SEED, 1);
  fs.chmodSync(path.join(dataDir, IDENTITY_FILE), 0o644);
  const identity = readIdentity(dataDir);
  assert.ok(identity);
  assert.equal(identity.publicKeyHex, PUB);
  assert.match(identity.warning ?? "", /0644.*0600/);
  const { identity: again, created } = loadOrCreateIdentity(dataDir);
  assert.equal(created, false);
  assert.equal(again.publicKeyHex, PUB);
  assert.ok(again.warning);
});
