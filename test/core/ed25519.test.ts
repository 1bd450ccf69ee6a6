import { test } from "node:test";
import assert from "node:assert/strict";
import { generateSeed, signerFromSeed, verifyEd25519 } from "../../src/core/ed25519.js";

// RFC 8032 section 7.1, TEST 1 (empty message) and TEST 2 (one byte 0x72).
const RFC_SEED = Buffer.from("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60", "hex");
const RFC_PUB = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
const RFC_SIG = "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b";
const RFC2_SEED = Buffer.from("4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb", "hex");
const RFC2_PUB = "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c";
const RFC2_SIG = "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00";

test("signerFromSeed reproduces the RFC 8032 key pair and signatures", () => {
  const signer = signerFromSeed(RFC_SEED);
  assert.equal(signer.publicKeyHex, RFC_PUB);
  assert.equal(signer.publicKey.toString("hex"), RFC_PUB);
  assert.equal(signer.sign(new Uint8Array()).toString("hex"), RFC_SIG);
  const second = signerFromSeed(RFC2_SEED);
  assert.equal(second.publicKeyHex, RFC2_PUB);
  assert.equal(second.sign(Buffer.from([0x72])).toString("hex"), RFC2_SIG);
});

test("verifyEd25519 accepts the RFC vectors as hex strings and as bytes", () => {
  assert.equal(verifyEd25519(RFC_PUB, new Uint8Array(), RFC_SIG), true);
  assert.equal(verifyEd25519(Buffer.from(RFC_PUB, "hex"), new Uint8Array(), Buffer.from(RFC_SIG, "hex")), true);
  assert.equal(verifyEd25519(RFC2_PUB.toUpperCase(), Buffer.from([0x72]), RFC2_SIG.toUpperCase()), true);
});

test("sign then verify round-trips; any change to message, key or signature fails", () => {
  const signer = signerFromSeed(generateSeed());
  const other = signerFromSeed(generateSeed());
  const message = Buffer.from("registry v1 head", "utf8");
  const signature = signer.sign(message);
  assert.equal(signature.length, 64);
  assert.equal(verifyEd25519(signer.publicKey, message, signature), true);
  assert.equal(verifyEd25519(signer.publicKeyHex, message, signature.toString("hex")), true);
  assert.equal(verifyEd25519(signer.publicKey, Buffer.from("registry v1 heaD"), signature), false);
  assert.equal(verifyEd25519(other.publicKey, message, signature), false);
  const flipped = Buffer.from(signature);
  flipped[63] = flipped[63]! ^ 0x01;
  assert.equal(verifyEd25519(signer.publicKey, message, flipped), false);
});

test("generateSeed gives 32 fresh random bytes", () => {
  const a = generateSeed();
  const b = generateSeed();
  assert.equal(a.length, 32);
  assert.notDeepEqual(a, b);
});

test("signerFromSeed refuses a seed that is not 32 bytes", () => {
  assert.throws(() => signerFromSeed(new Uint8Array(31)));
  assert.throws(() => signerFromSeed(new Uint8Array(64)));
});

test("verifyEd25519 returns false, never throws, on malformed keys and signatures", () => {
  const msg = new Uint8Array();
  const malformed: Array<[unknown, unknown]> = [
    ["", RFC_SIG],
    [RFC_PUB, ""],
    [RFC_PUB.slice(0, 63), RFC_SIG],
    [RFC_PUB + "00", RFC_SIG],
    [RFC_PUB, RFC_SIG.slice(0, 126)],
    [RFC_PUB, RFC_SIG + "00"],
    ["zz" + RFC_PUB.slice(2), RFC_SIG],
    [RFC_PUB, RFC_SIG.slice(0, 127) + "g"],
    [" " + RFC_PUB.slice(1), RFC_SIG],
    [Buffer.alloc(31), Buffer.from(RFC_SIG, "hex")],
    [Buffer.from(RFC_PUB, "hex"), Buffer.alloc(63)],
    [Buffer.alloc(32), Buffer.alloc(64)],
    [Buffer.alloc(32, 0xff), Buffer.from(RFC_SIG, "hex")],
    [null, RFC_SIG],
    [RFC_PUB, undefined],
    [42, RFC_SIG],
    [{ length: 32 }, RFC_SIG],
  ];
  for (const [pub, sig] of malformed) {
    assert.equal(verifyEd25519(pub as string, msg, sig as string), false, `pub=${String(pub)} sig=${String(sig)}`);
  }
});

test("a signature with S not reduced mod L does not verify", () => {
  // RFC 8032 requires rejecting S >= L; adding L to S of a valid signature gives such an S.
  const L = (1n << 252n) + 27742317777372353535851937790883648493n;
  const sig = Buffer.from(RFC_SIG, "hex");
  const s = BigInt("0x" + Buffer.from(sig.subarray(32)).reverse().toString("hex")) + L;
  const sBytes = Buffer.from(s.toString(16).padStart(64, "0"), "hex").reverse();
  const malleated = Buffer.concat([sig.subarray(0, 32), sBytes]);
  assert.equal(verifyEd25519(RFC_PUB, new Uint8Array(), malleated), false);
});
