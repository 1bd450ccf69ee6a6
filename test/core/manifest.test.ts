import { test } from "node:test";
import assert from "node:assert/strict";
import { generateSeed, signerFromSeed, type Signer } from "../../src/core/ed25519.js";
import { RegistryError } from "../../src/core/errors.js";
import {
  IdentifierSchema,
  LIMITS,
  checkManifestLimits,
  manifestParties,
  manifestSignedBytes,
  sidecarMatches,
  verifyManifest,
  type ManifestVerdict,
} from "../../src/core/manifest.js";
import { readFixture } from "../fixtures.js";

interface ManifestCase {
  name: string;
  valid: boolean;
  manifest: Record<string, unknown>;
  signed_bytes: string | null;
}

const { cases } = readFixture<{ cases: ManifestCase[] }>("manifest-vectors.json");
const signer = signerFromSeed(generateSeed());

// ---------------------------------------------------------------------------
// A deliberately naive reference for the signed text, used only to make test
// signatures. It serializes floats too, so that a manifest the verifier must
// refuse for a float can still carry a signature that is correct over bytes.

const DEFAULTS: Record<string, unknown> = {
  version: "OVERSIGHT-v1",
  suite: "OSGT-CLASSIC-v1",
  original_filename: "",
  content_hash: "",
  canonical_content_hash: "",
  content_type: "application/octet-stream",
  size_bytes: 0,
  issuer_id: "",
  issuer_ed25519_pub: "",
  recipient: null,
  watermarks: [],
  beacons: [],
  policy: {},
  l3_policy: {},
  signature_ed25519: "",
  signature_ml_dsa: "",
};

function dropNullMembers(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(dropNullMembers);
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(
      Object.entries(value)
        .filter(([, v]) => v !== null)
        .map(([k, v]) => [k, dropNullMembers(v)]),
    );
  }
  return value;
}

function naiveJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(naiveJson).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const keys = Object.keys(value).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${naiveJson((value as Record<string, unknown>)[k])}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

function naiveSignedText(m: Record<string, unknown>, form: "full" | "legacy" | "raw" = "full"): string {
  if (form === "raw") return naiveJson({ ...m, signature_ed25519: "", signature_ml_dsa: "" });
  const filled = dropNullMembers({ ...DEFAULTS, ...m, signature_ed25519: "", signature_ml_dsa: "" }) as Record<string, unknown>;
  if (form === "legacy") {
    if (filled.canonical_content_hash === "") delete filled.canonical_content_hash;
    if (JSON.stringify(filled.l3_policy) === "{}") delete filled.l3_policy;
  }
  return naiveJson(filled);
}

function signed(m: Record<string, unknown>, form: "full" | "legacy" | "raw" = "full", by: Signer = signer): Record<string, unknown> {
  const withKey = { issuer_ed25519_pub: by.publicKeyHex, ...m };
  const signature = by.sign(Buffer.from(naiveSignedText(withKey, form), "utf8")).toString("hex");
  return { ...withKey, signature_ed25519: signature };
}

function base(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    file_id: "0b6f0c55-2d7e-4c43-9a39-0d4f3f6d7e10",
    issued_at: 1795395258,
    version: "OVERSIGHT-v1",
    suite: "OSGT-CLASSIC-v1",
    original_filename: "notes.txt",
    content_hash: "aa".repeat(32),
    canonical_content_hash: "bb".repeat(32),
    content_type: "text/plain",
    size_bytes: 12,
    issuer_id: "issuer-1",
    recipient: { recipient_id: "alice", x25519_pub: "11".repeat(32) },
    watermarks: [{ layer: "L1_zero_width", mark_id: "10".repeat(16) }],
    beacons: [
      { token_id: "t-1", kind: "dns" },
      { token_id: "t-2", kind: "http", url: "https://b.example/t-2" },
    ],
    policy: { jurisdiction: "GLOBAL" },
    l3_policy: {},
    signature_ml_dsa: "",
    ...overrides,
  };
}

function assertValid(verdict: ManifestVerdict, legacy = false): asserts verdict is Extract<ManifestVerdict, { ok: true }> {
  assert.equal(verdict.ok, true, verdict.ok ? "" : verdict.reason);
  assert.equal(verdict.legacy, legacy);
}

function assertInvalid(verdict: ManifestVerdict, code: "missing_field" | "signature_invalid" = "signature_invalid", reason?: RegExp): void {
  assert.equal(verdict.ok, false, "expected the manifest to be refused");
  if (verdict.ok) return;
  assert.equal(verdict.code, code, verdict.reason);
  assert.ok(verdict.reason.length > 0);
  if (reason) assert.match(verdict.reason, reason);
}

// ---------------------------------------------------------------------------

test("fixture vectors: verdicts and exact signed bytes", () => {
  assert.ok(cases.some((c) => c.valid) && cases.some((c) => !c.valid));
  for (const c of cases) {
    const verdict = verifyManifest(c.manifest);
    if (c.valid) {
      assertValid(verdict);
      assert.equal(Buffer.from(verdict.signedBytes).toString("utf8"), c.signed_bytes, c.name);
      assert.equal(Buffer.from(manifestSignedBytes(c.manifest)).toString("utf8"), c.signed_bytes, c.name);
    } else {
      assertInvalid(verdict);
    }
  }
});

test("fixture vectors survive a JSON round trip and reordered members", () => {
  for (const c of cases.filter((x) => x.valid)) {
    const reordered = Object.fromEntries(Object.entries(structuredClone(c.manifest)).reverse());
    assertValid(verifyManifest(reordered));
  }
});

test("a freshly signed manifest verifies and its signed bytes are the reference text", () => {
  const m = signed(base());
  const verdict = verifyManifest(m);
  assertValid(verdict);
  assert.equal(Buffer.from(verdict.signedBytes).toString("utf8"), naiveSignedText(m));
  assert.equal(verdict.manifest.signature_ed25519, m.signature_ed25519);
});

test("any change after signing is refused", () => {
  const m = signed(base());
  const changes: Array<[string, unknown]> = [
    ["size_bytes", 13],
    ["issuer_id", "issuer-2"],
    ["recipient", { recipient_id: "mallory", x25519_pub: "11".repeat(32) }],
    ["beacons", [{ token_id: "t-1", kind: "dns" }]],
    ["watermarks", []],
    ["policy", { jurisdiction: "EU" }],
    ["l3_policy", { strength: 1 }],
    ["issuer_ed25519_pub", signerFromSeed(generateSeed()).publicKeyHex],
  ];
  for (const [field, value] of changes) {
    assertInvalid(verifyManifest({ ...m, [field]: value }), "signature_invalid");
  }
});

test("signature fields are blanked before verification (signature_ml_dsa is not covered)", () => {
  const m = signed(base());
  assertValid(verifyManifest({ ...m, signature_ml_dsa: "c0ffee" }));
});

test("absent fields are filled with their defaults before verification", () => {
  const minimal = { file_id: "f-min", issued_at: 1 };
  const m = signed(minimal);
  const verdict = verifyManifest(m);
  assertValid(verdict);
  assert.equal(verdict.manifest.version, "OVERSIGHT-v1");
  assert.equal(verdict.manifest.content_type, "application/octet-stream");
  assert.deepEqual(verdict.manifest.beacons, []);
  assert.equal("recipient" in verdict.manifest, false);
  // A signature over the manifest without its defaults is not the signature the contract asks for.
  assertInvalid(verifyManifest(signed(minimal, "raw")));
});

test("unknown fields are refused at the top level, in recipient and in watermark items", () => {
  const withUnknown: Array<[Record<string, unknown>, RegExp]> = [
    [base({ note: "x" }), /manifest: unknown field "note"/],
    [base({ recipient: { recipient_id: "alice", x25519_pub: "11".repeat(32), email: "a@x" } }), /recipient: unknown field "email"/],
    [base({ watermarks: [{ layer: "L1_zero_width", mark_id: "10", strength: 3 }] }), /watermarks\.0: unknown field "strength"/],
  ];
  for (const [m, reason] of withUnknown) {
    // Signed over exactly what was sent, so only the unknown-field rule can refuse it.
    assertInvalid(verifyManifest(signed(m)), "signature_invalid", reason);
  }
});

test("a __proto__ member from JSON.parse is an unknown top-level field", () => {
  const m = JSON.parse(JSON.stringify(signed(base())).replace(/^\{/, '{"__proto__":{"x":1},'));
  assertInvalid(verifyManifest(m), "signature_invalid", /unknown field "__proto__"/);
});

test("beacon items are free-form, including a __proto__ key", () => {
  const withExtras = base({ beacons: [{ token_id: "t-1", kind: "ocsp", responder: "r", weight: 2, nested: { a: [1] } }] });
  assertValid(verifyManifest(signed(withExtras)));
  const proto = JSON.parse('{"token_id":"t-9","kind":"http","__proto__":{"evil":true}}');
  const m = signed(base({ beacons: [proto] }));
  const verdict = verifyManifest(JSON.parse(JSON.stringify(m)));
  assertValid(verdict);
  assert.match(Buffer.from(verdict.signedBytes).toString("utf8"), /"__proto__":\{"evil":true\}/);
});

test("recipient with optional keys verifies; without a required key it is refused", () => {
  const full = { recipient_id: "alice", x25519_pub: "11".repeat(32), ed25519_pub: "22".repeat(32), p256_pub: "04" + "33".repeat(64) };
  assertValid(verifyManifest(signed(base({ recipient: full }))));
  assertInvalid(verifyManifest(signed(base({ recipient: { x25519_pub: "11".repeat(32) } }))));
  assertInvalid(verifyManifest(signed(base({ recipient: { recipient_id: "alice" } }))));
});

test("every field must have its JSON type", () => {
  const wrong: Array<[string, unknown]> = [
    ["version", 1],
    ["suite", true],
    ["original_filename", ["a"]],
    ["content_hash", {}],
    ["canonical_content_hash", 0],
    ["content_type", false],
    ["size_bytes", "4096"],
    ["size_bytes", 1.5],
    ["size_bytes", true],
    ["issued_at", "1795395258"],
    ["issued_at", 1795395258.5],
    ["issued_at", 2 ** 53],
    ["issuer_id", 7],
    ["issuer_ed25519_pub", 12],
    ["recipient", "alice"],
    ["recipient", []],
    ["recipient", { recipient_id: 5, x25519_pub: "11" }],
    ["recipient", { recipient_id: "a", x25519_pub: "11", ed25519_pub: 3 }],
    ["watermarks", {}],
    ["watermarks", ["L1"]],
    ["watermarks", [{ layer: 1, mark_id: "m" }]],
    ["watermarks", [{ layer: "L1", mark_id: null }]],
    ["beacons", { token_id: "t", kind: "dns" }],
    ["beacons", ["t-1"]],
    ["beacons", [["t-1", "dns"]]],
    ["beacons", [null]],
    ["policy", []],
    ["policy", "GLOBAL"],
    ["l3_policy", 1],
    ["signature_ml_dsa", 0],
  ];
  for (const [field, value] of wrong) {
    const verdict = verifyManifest(signed(base({ [field]: value })));
    assertInvalid(verdict, "signature_invalid", new RegExp(field));
  }
  const badSignatureType = { ...signed(base()), signature_ed25519: 5 };
  assertInvalid(verifyManifest(badSignatureType));
});

test("null members are dropped recursively before verification", () => {
  const m = base({
    issuer_id: null,
    content_type: null,
    recipient: { recipient_id: "alice", x25519_pub: "11".repeat(32), ed25519_pub: null, p256_pub: null },
    beacons: [{ token_id: "t-1", kind: "dns", url: null, meta: { a: null, b: 1 } }],
    policy: { jurisdiction: "GLOBAL", not_after: null, nested: { gone: null, list: [null, 1] } },
  });
  const verdict = verifyManifest(signed(m));
  assertValid(verdict);
  const text = Buffer.from(verdict.signedBytes).toString("utf8");
  for (const dropped of ['"issuer_id"', '"content_type"', '"ed25519_pub"', '"p256_pub"', '"url"', '"gone"', '"not_after"', '"a"']) {
    assert.equal(text.includes(dropped), false, dropped);
  }
  assert.match(text, /"recipient":\{"recipient_id":"alice","x25519_pub":"1{64}"\}/);
  // Array elements are values, not members: a null element stays.
  assert.match(text, /"list":\[null,1\]/);
  assert.match(text, /"meta":\{"b":1\}/);
  assert.equal("issuer_id" in verdict.manifest, false);
  // A null field is dropped, not replaced by its default: a signature over the default does not verify.
  const overDefault = signed(base({ content_type: "application/octet-stream" }));
  assertInvalid(verifyManifest({ ...overDefault, content_type: null }));
});

test("a null signature_ml_dsa is still signed as an empty string", () => {
  const m = signed(base({ signature_ml_dsa: "" }));
  const verdict = verifyManifest({ ...m, signature_ml_dsa: null });
  assertValid(verdict);
  assert.match(Buffer.from(verdict.signedBytes).toString("utf8"), /"signature_ml_dsa":""/);
});

test("recipient null is the same as no recipient", () => {
  const withNull = signed(base({ recipient: null }));
  const verdict = verifyManifest(withNull);
  assertValid(verdict);
  assert.doesNotMatch(Buffer.from(verdict.signedBytes).toString("utf8"), /recipient/);
  const withoutKey = { ...withNull };
  delete withoutKey.recipient;
  assertValid(verifyManifest(withoutKey));
});

test("the legacy form verifies when the full form does not", () => {
  const absent = base();
  delete absent.canonical_content_hash;
  delete absent.l3_policy;
  const m = signed(absent, "legacy");
  const verdict = verifyManifest(m);
  assertValid(verdict, true);
  assert.equal(Buffer.from(verdict.signedBytes).toString("utf8"), naiveSignedText(m, "legacy"));
  assert.doesNotMatch(Buffer.from(verdict.signedBytes).toString("utf8"), /canonical_content_hash|l3_policy/);
  assert.equal(Buffer.from(manifestSignedBytes(m, { legacy: true })).toString("utf8"), naiveSignedText(m, "legacy"));

  // Explicit "" and {} are the values the legacy form leaves out, too.
  assertValid(verifyManifest(signed(base({ canonical_content_hash: "", l3_policy: {} }), "legacy")), true);
  // {} after null dropping counts as {}.
  assertValid(verifyManifest(signed(base({ canonical_content_hash: "", l3_policy: { x: null } }), "legacy")), true);
  // When both signatures are possible the full form wins.
  assertValid(verifyManifest(signed(base({ canonical_content_hash: "", l3_policy: {} }))), false);
});

test("the legacy form keeps non-default canonical_content_hash and l3_policy", () => {
  // The naive legacy text with a non-empty hash and policy equals the full text, so
  // sign without them explicitly: that signature must not verify.
  const m = base({ canonical_content_hash: "cc".repeat(32), l3_policy: { strength: 2 } });
  const text = naiveSignedText({ ...m, issuer_ed25519_pub: signer.publicKeyHex })
    .replace(`"canonical_content_hash":"${"cc".repeat(32)}",`, "")
    .replace(`"l3_policy":{"strength":2},`, "");
  assert.doesNotMatch(text, /canonical_content_hash|l3_policy/);
  const signature = signer.sign(Buffer.from(text)).toString("hex");
  assertInvalid(verifyManifest({ ...m, issuer_ed25519_pub: signer.publicKeyHex, signature_ed25519: signature }));
});

test("a non-integer number anywhere is refused even under a signature over it", () => {
  const floats: Array<Record<string, unknown>> = [
    base({ policy: { max_opens: 2.5 } }),
    base({ l3_policy: { nested: [1, 0.5] } }),
    base({ beacons: [{ token_id: "t", kind: "dns", weight: 0.1 }] }),
  ];
  for (const m of floats) {
    const s = signed(m);
    assert.match(naiveSignedText(s), /\d\.\d/);
    assertInvalid(verifyManifest(s), "signature_invalid", /non-integer/);
  }
});

test("malformed key or signature hex is signature_invalid, never an exception", () => {
  const m = signed(base());
  const pub = m.issuer_ed25519_pub as string;
  const sig = m.signature_ed25519 as string;
  const bad: Array<Record<string, unknown>> = [
    { issuer_ed25519_pub: pub.slice(0, 63) },
    { issuer_ed25519_pub: pub + "00" },
    { issuer_ed25519_pub: "zz" + pub.slice(2) },
    { issuer_ed25519_pub: "" },
    { signature_ed25519: sig.slice(0, 127) },
    { signature_ed25519: sig.slice(0, 126) },
    { signature_ed25519: sig + "00" },
    { signature_ed25519: "xy" + sig.slice(2) },
    { signature_ed25519: "" },
    { signature_ed25519: "0".repeat(128) },
  ];
  for (const patch of bad) assertInvalid(verifyManifest({ ...m, ...patch }), "signature_invalid");
  const unsigned = { ...m };
  delete unsigned.signature_ed25519;
  assertInvalid(verifyManifest(unsigned), "signature_invalid");
});

test("uppercase hex key and signature are accepted", () => {
  const m = signed(base({ issuer_ed25519_pub: signer.publicKeyHex.toUpperCase() }));
  assertValid(verifyManifest({ ...m, signature_ed25519: (m.signature_ed25519 as string).toUpperCase() }));
});

test("file_id: missing, empty, wrong type or over 256 bytes is missing_field", () => {
  const m = signed(base());
  const withoutId = { ...m };
  delete withoutId.file_id;
  assertInvalid(verifyManifest(withoutId), "missing_field", /file_id/);
  for (const fileId of ["", null, 42, "é".repeat(129), "x".repeat(257)]) {
    assertInvalid(verifyManifest({ ...m, file_id: fileId }), "missing_field", /file_id/);
  }
  assertValid(verifyManifest(signed(base({ file_id: "x".repeat(256) }))));
});

test("missing issued_at is signature_invalid", () => {
  const m = base();
  delete m.issued_at;
  assertInvalid(verifyManifest(signed(m)), "signature_invalid", /issued_at/);
});

test("anything that is not a JSON manifest gets a verdict, never an exception", () => {
  const deep: Record<string, unknown> = {};
  let cursor = deep;
  for (let i = 0; i < 200_000; i++) {
    const next: Record<string, unknown> = {};
    cursor.n = next;
    cursor = next;
  }
  const throwing = { ...signed(base()) };
  Object.defineProperty(throwing, "policy", {
    enumerable: true,
    get: () => {
      throw new Error("boom");
    },
  });
  const proxy = new Proxy(signed(base()), {
    ownKeys: () => {
      throw new Error("boom");
    },
  });
  const inputs: unknown[] = [
    null,
    undefined,
    0,
    // biome-ignore lint/correctness/noPrecisionLoss: a literal beyond double range, i.e. Infinity, on purpose
    1e400,
    "manifest",
    true,
    [],
    [signed(base())],
    new Date(),
    new Map(Object.entries(signed(base()))),
    Object.assign(Object.create({ inherited: 1 }), signed(base())),
    signed(base({ original_filename: "bad\ud800name" })),
    signed(base({ policy: { ["k\udc00"]: 1 } })),
    { ...signed(base()), size_bytes: 10n },
    { ...signed(base()), size_bytes: Number.NaN },
    { ...signed(base()), size_bytes: Number.POSITIVE_INFINITY },
    { ...signed(base()), policy: { x: undefined } },
    { ...signed(base()), policy: { f: () => 1 } },
    { ...signed(base()), policy: { d: new Date(0) } },
    { ...signed(base()), policy: deep },
    { ...signed(base()), version: undefined },
    throwing,
    proxy,
  ];
  for (const input of inputs) {
    let verdict: ManifestVerdict | undefined;
    assert.doesNotThrow(() => {
      verdict = verifyManifest(input);
    });
    assert.equal(verdict?.ok, false);
    assert.equal(verdict?.ok === false && verdict.code, "signature_invalid");
  }
});

test("manifestSignedBytes refuses what verifyManifest refuses", () => {
  assert.throws(() => manifestSignedBytes({ issued_at: 1 }), /file_id/);
  assert.throws(() => manifestSignedBytes(base({ policy: { x: 0.5 } })), /non-integer/);
});

// ---------------------------------------------------------------------------
// Limits

function assertLimit(m: unknown, pattern: RegExp): void {
  assert.throws(
    () => checkManifestLimits(m),
    (error: unknown) => {
      assert.ok(error instanceof RegistryError);
      assert.equal(error.code, "missing_field");
      assert.equal(error.status, 400);
      assert.match(error.message, pattern);
      return true;
    },
  );
}

test("LIMITS are the documented numbers", () => {
  assert.deepEqual(
    { ...LIMITS },
    {
      identifierBytes: 256,
      beacons: 500,
      watermarks: 500,
      manifestBytes: 262144,
      corpusEntries: 64,
      corpusFieldBytes: 256,
    },
  );
});

test("fixture and test manifests are within the limits", () => {
  for (const c of cases) checkManifestLimits(c.manifest);
  checkManifestLimits(signed(base()));
  checkManifestLimits({ file_id: "f", issued_at: 1 });
  checkManifestLimits(base({ issuer_id: "", recipient: { recipient_id: "", x25519_pub: "" } }));
  checkManifestLimits(base({ issuer_id: null, recipient: null, beacons: null, watermarks: null }));
});

test("identifiers are limited to 1..256 UTF-8 bytes, counted in bytes", () => {
  const long = "€".repeat(86); // 86 characters, 258 bytes
  const at = "é".repeat(128); // 128 characters, 256 bytes
  checkManifestLimits(base({ file_id: at, issuer_id: at, beacons: [{ token_id: at, kind: at }], watermarks: [{ mark_id: at, layer: at }] }));
  assertLimit(base({ file_id: long }), /file_id.*256 bytes/);
  assertLimit(base({ file_id: "" }), /file_id.*1-256 bytes/);
  assertLimit(base({ file_id: undefined }), /file_id/);
  assertLimit(base({ issuer_id: long }), /issuer_id.*256 bytes/);
  assertLimit(base({ issuer_id: 5 }), /issuer_id/);
  assertLimit(base({ recipient: { recipient_id: long, x25519_pub: "" } }), /recipient_id.*256 bytes/);
  assertLimit(base({ beacons: [{ token_id: long, kind: "dns" }] }), /beacons\[0\]\.token_id.*256 bytes/);
  assertLimit(
    base({
      beacons: [
        { token_id: "t", kind: "dns" },
        { token_id: "", kind: "dns" },
      ],
    }),
    /beacons\[1\]\.token_id/,
  );
  assertLimit(base({ beacons: [{ kind: "dns" }] }), /beacons\[0\]\.token_id/);
  assertLimit(base({ beacons: [{ token_id: "t", kind: long }] }), /beacons\[0\]\.kind.*256 bytes/);
  assertLimit(base({ beacons: [{ token_id: "t" }] }), /beacons\[0\]\.kind/);
  assertLimit(base({ beacons: ["t"] }), /beacons\[0\]\.token_id/);
  assertLimit(base({ watermarks: [{ mark_id: long, layer: "L1" }] }), /watermarks\[0\]\.mark_id.*256 bytes/);
  assertLimit(base({ watermarks: [{ mark_id: "m", layer: long }] }), /watermarks\[0\]\.layer.*256 bytes/);
  assertLimit(base({ watermarks: [{ mark_id: "m", layer: "" }] }), /watermarks\[0\]\.layer/);
});

test("at most 500 beacons and 500 watermarks", () => {
  const beacons = (n: number) => Array.from({ length: n }, (_, i) => ({ token_id: `t-${i}`, kind: "dns" }));
  const watermarks = (n: number) => Array.from({ length: n }, (_, i) => ({ mark_id: `m-${i}`, layer: "L1_zero_width" }));
  checkManifestLimits(base({ beacons: beacons(500), watermarks: watermarks(500) }));
  assertLimit(base({ beacons: beacons(501) }), /500 beacons/);
  assertLimit(base({ watermarks: watermarks(501) }), /500 watermarks/);
  assertLimit(base({ beacons: { token_id: "t" } }), /beacons must be an array/);
  assertLimit(base({ watermarks: "x" }), /watermarks must be an array/);
});

test("the manifest's compact JSON is at most 256 KiB", () => {
  const sized = (bytes: number) => {
    const m = base({ policy: { pad: "" } });
    const overhead = Buffer.byteLength(JSON.stringify(m));
    return base({ policy: { pad: "x".repeat(bytes - overhead) } });
  };
  assert.equal(Buffer.byteLength(JSON.stringify(sized(262144))), 262144);
  checkManifestLimits(sized(262144));
  assertLimit(sized(262145), /262144 bytes/);
  // Bytes, not characters.
  const multibyte = base({ original_filename: "€".repeat(90_000) });
  assertLimit(multibyte, /262144 bytes/);
});

test("checkManifestLimits refuses non-objects and non-JSON", () => {
  assertLimit(null, /JSON object/);
  assertLimit([], /JSON object/);
  assertLimit("x", /JSON object/);
  assertLimit(base({ policy: { n: 1n } }), /JSON/);
});

test("IdentifierSchema: strings of 1..256 UTF-8 bytes", () => {
  for (const ok of ["a", "x".repeat(256), "é".repeat(128), "\u{1F512}".repeat(64)]) {
    assert.equal(IdentifierSchema.safeParse(ok).success, true, ok);
  }
  for (const bad of ["", "x".repeat(257), "é".repeat(129), "\u{1F512}".repeat(65), 5, null, undefined, ["a"]]) {
    assert.equal(IdentifierSchema.safeParse(bad).success, false, String(bad));
  }
});

// ---------------------------------------------------------------------------
// Parties and sidecars

test("manifestParties names file, recipient, issuer and key", () => {
  const verdict = verifyManifest(cases[0]!.manifest);
  assertValid(verdict);
  assert.deepEqual(manifestParties(verdict.manifest), {
    fileId: "2f7c1aed-f441-4d79-aad9-ec3a393efeb0",
    recipientId: "alice@example.org",
    issuerId: "vector-issuer",
    issuerPub: "87686880229522733c79e68740c4dfb81ea6225ec9d84079513a9d3805b371ff",
  });
});

test("manifestParties uses unknown for absent or empty recipient and issuer, lowercase key hex", () => {
  const none = manifestParties({ file_id: "f", issuer_ed25519_pub: "ABCDEF" });
  assert.deepEqual(none, { fileId: "f", recipientId: "unknown", issuerId: "unknown", issuerPub: "abcdef" });
  const empty = manifestParties({ file_id: "f", issuer_id: "", recipient: { recipient_id: "" }, issuer_ed25519_pub: "ab" });
  assert.equal(empty.recipientId, "unknown");
  assert.equal(empty.issuerId, "unknown");
});

test("sidecarMatches ignores item order and key order", () => {
  const signedBeacons = [
    { token_id: "t-1", kind: "dns" },
    { token_id: "t-2", kind: "http", url: "https://b.example/t-2" },
  ];
  assert.equal(sidecarMatches(signedBeacons, structuredClone(signedBeacons)), true);
  assert.equal(sidecarMatches(signedBeacons, [signedBeacons[1], signedBeacons[0]]), true);
  assert.equal(
    sidecarMatches(signedBeacons, [
      { url: "https://b.example/t-2", kind: "http", token_id: "t-2" },
      { kind: "dns", token_id: "t-1" },
    ]),
    true,
  );
  assert.equal(sidecarMatches([], []), true);
  assert.equal(sidecarMatches([{ token_id: "t", kind: "dns" }], [{ token_id: "t", kind: "dns", note: null }]), true);
});

test("sidecarMatches differs on any change", () => {
  const marks = [
    { layer: "L1_zero_width", mark_id: "10" },
    { layer: "L3_semantic", mark_id: "30" },
  ];
  const changed: unknown[] = [
    [marks[0]],
    [...marks, marks[0]],
    [marks[0], { layer: "L3_semantic", mark_id: "31" }],
    [marks[0], { layer: "L3_synonyms", mark_id: "30" }],
    [marks[0], { layer: "L3_semantic", mark_id: "30", extra: 1 }],
    [marks[0], { layer: "L3_semantic" }],
    [marks[0], { layer: "L3_semantic", mark_id: 30 }],
    [marks[0], marks[0]],
    [],
    null,
    undefined,
    { 0: marks[0], 1: marks[1] },
    [marks[0], { layer: "L3_semantic", mark_id: 0.5 }],
  ];
  for (const sent of changed) assert.equal(sidecarMatches(marks, sent), false, JSON.stringify(sent));
  assert.equal(sidecarMatches(null, marks), false);
  // Same multiset size, different multiplicities.
  assert.equal(sidecarMatches([marks[0], marks[0], marks[1]], [marks[0], marks[1], marks[1]]), false);
});
