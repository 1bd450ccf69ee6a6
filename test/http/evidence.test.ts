import assert from "node:assert/strict";
import { test } from "node:test";
import { verifyEd25519 } from "../../src/core/ed25519.js";
import { canonicalBytes } from "../../src/verify/jcs.js";
import { verifyTreeHead } from "../../src/tlog/heads.js";
import { leafHash, verifyInclusion } from "../../src/tlog/merkle.js";
import { createIssuer } from "../issuer.js";
import { envelope, startTestRegistry } from "./registry-server.js";

const hex = (s: string) => Buffer.from(s, "hex");

test("evidence bundle: signed, one snapshot, every proof and leaf binds to its row", async (t) => {
  const reg = await startTestRegistry(t);
  const issuer = createIssuer();
  const body = issuer.registration({ file_id: "evidence-file" });
  await reg.call("/register", { json: body });
  const token = (body.beacons[0] as { token_id: string }).token_id;
  await reg.call(`/p/${token}.png`, { headers: { "user-agent": "Reader" } });
  await reg.call("/dns_event", { json: { token_id: token, client_ip: "192.0.2.1", qtype: "A", qname: `${token}.t.example` }, auth: false });
  await reg.call("/v/unrelated");

  const bundle = await (await reg.call("/evidence/evidence-file")).json();
  const { bundle_signature_ed25519: signature, ...unsigned } = bundle;
  assert.equal(bundle.registry_pub, reg.service.registry.identity.publicKeyHex);
  assert.ok(verifyEd25519(bundle.registry_pub, canonicalBytes(unsigned), signature));
  assert.ok(verifyTreeHead(bundle.tlog_head, bundle.registry_pub));
  assert.equal(bundle.tlog_head.size, 4);
  assert.equal(bundle.manifest.file_id, "evidence-file");
  assert.equal(bundle.beacons.length, 2);
  assert.equal(bundle.watermarks.length, 2);
  assert.equal(bundle.events.length, 2);
  assert.equal(typeof bundle.disclaimer, "string");
  assert.equal(bundle.tlog_proofs.length, 2);
  for (const item of bundle.tlog_proofs) {
    assert.deepEqual(item.inclusion, item.proof);
    assert.equal(item.proof.tree_size, bundle.tlog_head.size);
    assert.equal(item.proof.root, bundle.tlog_head.root);
    assert.equal(leafHash(Buffer.from(item.leaf_data, "utf8")).toString("hex"), item.proof.leaf_hash);
    assert.ok(verifyInclusion(hex(item.proof.leaf_hash), item.tlog_index, bundle.tlog_head.size, item.proof.proof.map(hex), hex(bundle.tlog_head.root)));
    const row = bundle.events[item.event_row];
    const leaf = JSON.parse(item.leaf_data);
    assert.equal(row.tlog_index, item.tlog_index);
    assert.equal(leaf.token_id, row.token_id);
    assert.equal(leaf.kind, row.kind);
    assert.equal(leaf.source_ip, row.source_ip);
    assert.equal(leaf.timestamp, row.qualified_timestamp);
  }
  const registration = bundle.registration;
  assert.equal(registration.tlog_index, 0);
  assert.equal(JSON.parse(registration.leaf_data).file_id, "evidence-file");
  assert.ok(verifyInclusion(leafHash(Buffer.from(registration.leaf_data)), 0, 4, registration.proof.proof.map(hex), hex(bundle.tlog_head.root)));

  const missing = await reg.call("/evidence/unknown-file");
  assert.equal(missing.status, 404);
  assert.equal((await envelope(missing)).code, "not_found");
});
