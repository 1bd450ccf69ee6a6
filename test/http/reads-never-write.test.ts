import assert from "node:assert/strict";
import { test } from "node:test";
import { verifyTreeHead } from "../../src/tlog/heads.js";
import { readStateFile, signedHeadFile, SignedHeadRow } from "../../src/tlog/signed-head-record.js";
import { createIssuer } from "../issuer.js";
import { envelope, startTestRegistry } from "./registry-server.js";

test("an acknowledged write is already covered by both fork guards and the served head, before any read", async (t) => {
  const reg = await startTestRegistry(t);
  for (let i = 0; i < 3; i++) {
    const answer = await reg.call("/dns_event", { json: { token_id: `covered-${i}` }, auth: false });
    assert.equal(answer.status, 200);
    const { tlog_index: index } = await answer.json();
    assert.ok((readStateFile(signedHeadFile(reg.dataDir))?.size ?? 0) > index, "the state file covers it");
    assert.ok((new SignedHeadRow(reg.service.registry.db).read()?.size ?? 0) > index, "the tlog_signed row covers it");
    assert.ok(reg.service.log.head().size > index, "the published head covers it");
  }
});

test("with the database refusing writes (as on a full disk), writes answer 503 and every read keeps answering", async (t) => {
  const reg = await startTestRegistry(t);
  const issuer = createIssuer();
  const body = issuer.registration({ file_id: "full-disk-file" });
  assert.equal((await reg.call("/register", { json: body })).status, 200);
  const token = (body.beacons[0] as { token_id: string }).token_id;
  const dns = await reg.call("/dns_event", { json: { token_id: token, qtype: "A", qname: `${token}.t.example` }, auth: false });
  assert.equal(dns.status, 200);
  const { tlog_index: last } = await dns.json();

  // SQLite refuses every write on this connection from here on, the way it refuses them on a full disk.
  reg.service.registry.db.pragma("query_only = ON");
  const refused = await reg.call("/dns_event", { json: { token_id: token }, auth: false });
  assert.equal(refused.status, 503);
  assert.equal((await envelope(refused)).code, "server_error");

  const head = await reg.call("/tlog/head");
  assert.equal(head.status, 200);
  const signed = await head.json();
  assert.equal(signed.size, last + 1);
  assert.ok(verifyTreeHead(signed, reg.service.registry.identity.publicKeyHex));
  const checkpoint = await reg.call("/checkpoint");
  assert.equal(checkpoint.status, 200);
  assert.equal((await checkpoint.text()).split("\n")[1], String(last + 1));
  const proof = await reg.call(`/tlog/proof/${last}`);
  assert.equal(proof.status, 200);
  assert.equal((await proof.json()).root, signed.root);
  const bundle = await reg.call("/evidence/full-disk-file");
  assert.equal(bundle.status, 200);
  assert.equal((await bundle.json()).tlog_head.size, last + 1);
  assert.equal((await reg.call("/health")).status, 200);
});
