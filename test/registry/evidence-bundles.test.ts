import assert from "node:assert/strict";
import { test } from "node:test";
import { verifyEd25519 } from "../../src/core/ed25519.js";
import { PROOFS_PER_TURN } from "../../src/registry/evidence.js";
import { canonicalBytes, canonicalize } from "../../src/verify/jcs.js";
import { verifyEvidenceBundle } from "../../src/verify/evidence.js";
import { createIssuer } from "../issuer.js";
import { startTestRegistry, type TestRegistry } from "../http/registry-server.js";

async function registeredWithHits(reg: TestRegistry, fileId: string, hits: number): Promise<void> {
  const body = createIssuer().registration({ file_id: fileId });
  assert.equal((await reg.call("/register", { json: body })).status, 200);
  const tokenId = (body.beacons[0] as { token_id: string }).token_id;
  for (let i = 0; i < hits; i++) await reg.service.events.beacon({ kind: "http_img", tokenId, sourceIp: "192.0.2.7", userAgent: `reader "${i}"\n` });
}

test("a bundle's answer is the canonical JSON of the signed bundle, and its signature covers the rest of it", async (t) => {
  const reg = await startTestRegistry(t);
  await registeredWithHits(reg, "canonical-file", 3);
  for (const method of ["GET", "HEAD"]) {
    const res = await reg.call("/evidence/canonical-file", { method });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-type"), "application/json; charset=utf-8");
    if (method === "HEAD") {
      assert.equal(await res.text(), "");
      continue;
    }
    const text = await res.text();
    assert.equal(res.headers.get("content-length"), String(Buffer.byteLength(text)));
    const bundle = JSON.parse(text);
    assert.equal(text, canonicalize(bundle));
    const { bundle_signature_ed25519: signature, ...unsigned } = bundle;
    assert.ok(verifyEd25519(bundle.registry_pub, canonicalBytes(unsigned), signature));
    assert.equal(bundle.events.length, 3);
    assert.equal(bundle.registration.tlog_index, 0);
    assert.deepEqual(
      verifyEvidenceBundle(bundle, { registryPub: reg.service.registry.identity.publicKeyHex }).filter((c) => c.status !== "ok"),
      [],
    );
  }
});

test("a page whose proofs fit in one slice is built and signed within one turn of the event loop", async (t) => {
  const reg = await startTestRegistry(t);
  // The registration's leaf and these events' leaves: one slice.
  await registeredWithHits(reg, "small-file", PROOFS_PER_TURN - 1);
  // The head covering them is published: the page does not wait for one.
  await reg.service.log.head();
  let turns = 0;
  let built = false;
  const tick = () => {
    turns++;
    if (!built) setImmediate(tick);
  };
  setImmediate(tick);
  const page = reg.service.evidence.bundle("small-file").finally(() => {
    built = true;
  });
  const bundle = JSON.parse((await page).toString("utf8"));
  assert.equal(bundle.tlog_proofs.length, PROOFS_PER_TURN - 1);
  assert.notEqual(bundle.registration, null);
  // The ticker's first turn comes before the page's (a page starts on a
  // turn of its own); a page built in slices would see it turn again.
  assert.equal(turns, 1, `the event loop turned ${turns} times while the page was built`);
});
