/**
 * The registration fast path must store and hash exactly what the plain rules
 * give: the manifest text is JCS of the manifest as received, the request
 * digest is SHA-256 of JCS of {manifest, beacons, watermarks, corpus}, and a
 * signature checked on a worker gets the verdict `verifyManifest` gives.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import path from "node:path";
import { test, type TestContext } from "node:test";
import { loadOrCreateIdentity } from "../../src/core/identity.js";
import { RegistryError } from "../../src/core/errors.js";
import { toHex } from "../../src/core/hex.js";
import { canonicalize } from "../../src/verify/jcs.js";
import { checkManifest, manifestSignedBytes, verifyManifest } from "../../src/core/manifest.js";
import { VerifyPool } from "../../src/core/verify-pool.js";
import { openDatabase } from "../../src/registry/database.js";
import { Registrations, RegisterRequestSchema } from "../../src/registry/register.js";
import { Registry } from "../../src/registry/registry.js";
import { SIGNED_HEAD_FILE } from "../../src/tlog/signed-head-record.js";
import { readFixture } from "../fixtures.js";
import { createIssuer } from "../issuer.js";
import { tempDir } from "../temp.js";

const issuer = createIssuer("issuer-speed");

function resign(m: Record<string, unknown>, legacy = false): Record<string, unknown> {
  return { ...m, signature_ed25519: toHex(issuer.signer.sign(manifestSignedBytes(m, { legacy }))) };
}

/** Manifests (file ids `<prefix>-<i>`) that exercise every way the received text differs from the signed text. */
function variants(prefix: string): Record<string, unknown>[] {
  const m = (i: number) => issuer.manifest({ file_id: `${prefix}-${i}` });
  return [
    m(0),
    resign({ ...m(1), recipient: null, policy: null, content_type: null }),
    resign({ ...m(2), beacons: [{ token_id: `${prefix}-t-null`, kind: "http", url: null, extra: { a: null, b: [null, 1] } }] }),
    resign({ ...m(3), policy: { jurisdiction: "EU", nested: { gone: null } }, l3_policy: { k: null } }),
    resign({ ...m(4), recipient: { recipient_id: "bob", x25519_pub: "11".repeat(32), ed25519_pub: null } }),
    { ...m(5), signature_ml_dsa: null },
    { ...m(6), signature_ml_dsa: 'c0ffee\u2028"quoted"' },
    resign({ ...m(7), canonical_content_hash: "", l3_policy: {} }, true),
    resign({ file_id: `${prefix}-8`, issued_at: 1, issuer_ed25519_pub: issuer.signer.publicKeyHex }),
    resign({ ...m(9), original_filename: "naïve \u{1F600} <tab>\t.txt", size_bytes: -0 }),
  ];
}

test("verification's canonical text is canonicalize(manifest as received)", () => {
  const { cases } = readFixture<{ cases: { manifest: Record<string, unknown> }[] }>("manifest-vectors.json");
  const manifests = [...variants("canonical"), ...cases.map((c) => c.manifest)];
  let compared = 0;
  for (const m of manifests) {
    const check = checkManifest(m);
    if (!check.ok) continue;
    assert.equal(check.canonical, canonicalize(m), JSON.stringify(m).slice(0, 200));
    compared++;
  }
  assert.ok(compared >= 10 + cases.filter((c) => verifyManifest(c.manifest).ok).length, `only ${compared} manifests compared`);
});

test("a signature member JCS refuses leaves no canonical text (and canonicalize throws as before)", () => {
  const m = { ...issuer.manifest(), signature_ml_dsa: "lone \ud800 surrogate" };
  const check = checkManifest(m);
  assert.ok(check.ok, "the signed form blanks signature_ml_dsa, so the manifest still verifies");
  assert.equal(check.canonical, null);
  assert.equal(verifyManifest(m).ok, true);
  assert.throws(() => canonicalize(m), /lone surrogate/);
});

function setup(t: TestContext, pool: VerifyPool | null) {
  const dataDir = tempDir(t);
  const db = openDatabase(path.join(dataDir, "r.sqlite"), { synchronous: "NORMAL" });
  const registry = new Registry({
    db,
    identity: loadOrCreateIdentity(dataDir).identity,
    origin: "test.example/oversight-registry",
    signedHeadFile: path.join(dataDir, SIGNED_HEAD_FILE),
  });
  t.after(() => registry.close());
  const registrations = new Registrations(registry, pool);
  const row = db.prepare<[string], { manifest_json: string; request_digest: string }>("SELECT manifest_json, request_digest FROM manifests WHERE file_id = ?");
  return { registry, registrations, row: (fileId: string) => row.get(fileId) };
}

for (const mode of ["in-thread", "pool"] as const) {
  test(`${mode}: stored text and request digest are the plain JCS rules; a re-send is idempotent`, async (t) => {
    const pool = mode === "pool" ? new VerifyPool({ threads: 1 }) : null;
    if (pool) t.after(() => pool.close());
    const { registry, registrations, row } = setup(t, pool);
    const signedRequests = variants(mode).map((manifest, i) => ({
      manifest,
      beacons: (manifest["beacons"] as unknown[] | null | undefined) ?? [],
      watermarks: (manifest["watermarks"] as unknown[] | null | undefined) ?? [],
      ...(i % 2 === 0 ? { corpus: { perceptual: `p${i}`, sha256: "ab".repeat(32) } } : {}),
    }));
    const legacy = verifyManifest(signedRequests[7]!.manifest);
    assert.ok(legacy.ok && legacy.legacy, "variant 7 is signed in the legacy form");
    const results = await Promise.all(signedRequests.map((r) => registrations.register(RegisterRequestSchema.parse(r))));
    assert.deepEqual(
      results.map((r) => r.tlog_index).sort((a, b) => a - b),
      signedRequests.map((_, i) => i),
    );
    for (const request of signedRequests) {
      const parsed = RegisterRequestSchema.parse(request);
      const stored = row(request.manifest["file_id"] as string)!;
      assert.equal(stored.manifest_json, canonicalize(request.manifest));
      const plainDigest = createHash("sha256")
        .update(canonicalize({ manifest: parsed.manifest, beacons: parsed.beacons, watermarks: parsed.watermarks, corpus: parsed.corpus ?? null }))
        .digest("hex");
      assert.equal(stored.request_digest, plainDigest);
    }
    const again = await registrations.register(RegisterRequestSchema.parse(signedRequests[3]));
    assert.equal(again.tlog_index, results[3]!.tlog_index);
    assert.equal(registry.store.size(), signedRequests.length);
    if (pool) assert.equal(pool.stats.pooled, signedRequests.length + 1);
  });

  test(`${mode}: a bad signature is refused with verifyManifest's code and reason, and writes nothing`, async (t) => {
    const pool = mode === "pool" ? new VerifyPool({ threads: 1 }) : null;
    if (pool) t.after(() => pool.close());
    const { registry, registrations } = setup(t, pool);
    const tampered: Record<string, unknown> = { ...issuer.manifest(), original_filename: "changed after signing" };
    const verdict = verifyManifest(tampered);
    assert.equal(verdict.ok, false);
    await assert.rejects(
      registrations.register(RegisterRequestSchema.parse({ manifest: tampered, beacons: tampered["beacons"], watermarks: tampered["watermarks"] })),
      (e) => e instanceof RegistryError && !verdict.ok && e.code === verdict.code && e.message === verdict.reason,
    );
    assert.equal(registry.store.size(), 0);
  });
}
