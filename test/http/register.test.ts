import assert from "node:assert/strict";
import { test } from "node:test";
import Database from "better-sqlite3";
import { createIssuer } from "../issuer.js";
import { envelope, leafText, startTestRegistry } from "./registry-server.js";

const count = (dbPath: string, sql: string) => new Database(dbPath, { readonly: true }).prepare(sql).pluck().get() as number;

test("registration round trip, idempotent re-send, same-issuer replacement", async (t) => {
  const reg = await startTestRegistry(t);
  const issuer = createIssuer();
  const body = issuer.registration({ file_id: "file-1" });
  const first = await reg.call("/register", { json: body });
  assert.equal(first.status, 200);
  assert.deepEqual(await first.json(), { ok: true, file_id: "file-1", registered_beacons: 2, tlog_index: 0, rekor: null });

  const again = await reg.call("/register", { json: body });
  assert.equal((await again.json()).tlog_index, 0);
  assert.equal(reg.service.registry.store.size(), 1, "an identical re-send appends no leaf");

  const changed = issuer.registration({ file_id: "file-1", original_filename: "v2.docx", beacons: [{ token_id: "tok-v2", kind: "ocsp" }] });
  const replaced = await (await reg.call("/register", { json: changed })).json();
  assert.equal(replaced.tlog_index, 1);
  assert.equal(replaced.registered_beacons, 1);
  assert.equal(count(reg.dbPath, "SELECT count(*) FROM beacons WHERE file_id = 'file-1'"), 1);
  assert.equal(count(reg.dbPath, "SELECT tlog_index FROM manifests WHERE file_id = 'file-1'"), 1);

  const leaf = JSON.parse(leafText(reg, 1));
  assert.deepEqual(Object.keys(leaf).sort(), ["event", "file_id", "issuer_id", "issuer_pub", "n_beacons", "n_watermarks", "recipient_id", "timestamp"]);
  assert.equal(leaf.issuer_pub, issuer.signer.publicKeyHex);
  assert.match(leaf.timestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
});

test("rejections carry the v1 code and change nothing", async (t) => {
  const reg = await startTestRegistry(t);
  const issuer = createIssuer();
  const other = createIssuer("issuer-other");
  const owned = issuer.registration({ file_id: "owned" });
  assert.equal((await reg.call("/register", { json: owned })).status, 200);

  const tampered = issuer.registration();
  (tampered.manifest as Record<string, unknown>)["original_filename"] = "changed-after-signing";
  const floaty = issuer.registration();
  (floaty.manifest as Record<string, unknown>)["size_bytes"] = 1.5;
  const sidecar = issuer.registration();
  sidecar.beacons = [];
  const cases: [string, unknown, number, string][] = [
    ["bad signature", tampered, 400, "signature_invalid"],
    ["float in manifest", floaty, 400, "signature_invalid"],
    ["sidecar mismatch", sidecar, 400, "sidecar_mismatch"],
    ["issuer mismatch", other.registration({ file_id: "owned" }), 409, "issuer_mismatch"],
    ["hijacked beacon token", other.registration({ beacons: [owned.beacons[0]] }), 409, "issuer_mismatch"],
    ["hijacked watermark", other.registration({ watermarks: [owned.watermarks[1]] }), 409, "issuer_mismatch"],
    // Limits are checked before the signature, so these need no valid signature.
    ["oversized file_id", { manifest: { ...issuer.manifest(), file_id: "x".repeat(257) } }, 400, "missing_field"],
    ["oversized recipient_id", { manifest: { ...issuer.manifest(), recipient: { recipient_id: "é".repeat(129), x25519_pub: "" } } }, 400, "missing_field"],
    [
      "too many beacons",
      { manifest: { ...issuer.manifest(), beacons: Array.from({ length: 501 }, (_, i) => ({ token_id: `t${i}`, kind: "dns" })) } },
      400,
      "missing_field",
    ],
    ["missing manifest", { beacons: [] }, 400, "missing_field"],
    ["manifest not an object", { manifest: [1] }, 400, "missing_field"],
    ["missing file_id", { manifest: { issued_at: 1 } }, 400, "missing_field"],
    [
      "too many corpus entries",
      { ...issuer.registration(), corpus: Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`k${i}`, "v"])) },
      400,
      "missing_field",
    ],
  ];
  for (const [name, json, status, code] of cases) {
    const res = await reg.call("/register", { json });
    assert.equal(res.status, status, name);
    assert.equal((await envelope(res)).code, code, name);
  }
  assert.equal(reg.service.registry.store.size(), 1);
  assert.equal(count(reg.dbPath, "SELECT count(*) FROM manifests"), 1);

  const moved = issuer.registration({ beacons: [owned.beacons[0]] });
  assert.equal((await reg.call("/register", { json: moved })).status, 200, "an issuer may move its own token");
});

test("framework errors come in the envelope: bad JSON, wrong type, too large, no auth", async (t) => {
  const reg = await startTestRegistry(t, { maxBodyBytes: 700_000 });
  const post = (body: string, headers: Record<string, string>, auth = true) => reg.call("/register", { method: "POST", body, headers, auth });
  const json = { "content-type": "application/json" };
  let res = await post("{not json", json);
  assert.equal(res.status, 400);
  assert.equal((await envelope(res)).code, "missing_field");
  res = await post("manifest=1", { "content-type": "application/x-www-form-urlencoded" });
  assert.equal(res.status, 400);
  assert.equal((await envelope(res)).code, "missing_field");
  res = await post(JSON.stringify({ manifest: { pad: "x".repeat(800_000) } }), json);
  assert.equal(res.status, 413);
  assert.equal((await envelope(res)).code, "missing_field");
  res = await post("{}", json, false);
  assert.equal(res.status, 401);
  assert.equal((await envelope(res)).code, "auth_required");
  res = await post("{}", { ...json, authorization: "Bearer wrong-token" }, false);
  assert.equal(res.status, 401);
  res = await post("{}", { ...json, "x-oversight-operator-token": reg.token }, false);
  assert.equal(res.status, 400, "the alternative header authenticates");
  res = await reg.call("/no/such/route");
  assert.equal(res.status, 404);
  assert.equal((await envelope(res)).code, "not_found");
});

test("a registration that fails mid-transaction leaves no rows and no leaf; its batch-mates commit", async (t) => {
  const reg = await startTestRegistry(t);
  reg.service.registry.db.exec("CREATE TRIGGER refuse_boom BEFORE INSERT ON corpus WHEN NEW.hash_kind = 'boom' BEGIN SELECT RAISE(ABORT, 'refused'); END");
  const issuer = createIssuer();
  const good1 = issuer.registration({ file_id: "good-1" });
  const bad = { ...issuer.registration({ file_id: "bad" }), corpus: { perceptual: "abc", boom: "x" } };
  const good2 = issuer.registration({ file_id: "good-2" });
  const [r1, r2, r3] = await Promise.all([good1, bad, good2].map((json) => reg.call("/register", { json })));
  assert.equal(r1!.status, 200);
  assert.equal(r2!.status, 500);
  assert.equal((await envelope(r2!)).code, "server_error");
  assert.equal(r3!.status, 200);
  assert.deepEqual([(await r1!.json()).tlog_index, (await r3!.json()).tlog_index].sort(), [0, 1]);
  for (const table of ["manifests", "beacons", "watermarks", "corpus"]) {
    assert.equal(count(reg.dbPath, `SELECT count(*) FROM ${table} WHERE file_id = 'bad'`), 0, table);
  }
  assert.equal(reg.service.registry.store.size(), 2);
  const leaves = reg.service.log.range(0, 10).entries.map((e) => JSON.parse(e.leaf_data).file_id);
  assert.deepEqual(leaves.sort(), ["good-1", "good-2"]);
});

test("attribution by token, by mark, by perceptual hash, a miss and a missing selector", async (t) => {
  const reg = await startTestRegistry(t);
  const issuer = createIssuer();
  const body = { ...issuer.registration({ file_id: "attr" }), corpus: { perceptual: "ph-1" } };
  await reg.call("/register", { json: body });
  const token = (body.beacons[0] as { token_id: string }).token_id;
  await reg.call(`/p/${token}.png`, { headers: { "user-agent": "Viewer/1" } });
  await reg.call(`/v/${token}`);

  const byToken = await (await reg.call("/attribute", { json: { token_id: token } })).json();
  assert.equal(byToken.found, true);
  assert.equal(byToken.file_id, "attr");
  assert.equal(byToken.manifest.file_id, "attr");
  assert.deepEqual(byToken.recent_events, byToken.events);
  assert.deepEqual(
    byToken.recent_events.map((e: { kind: string }) => e.kind),
    ["license", "http_img"],
  );
  assert.deepEqual(Object.keys(byToken.recent_events[0]).sort(), ["kind", "qualified_timestamp", "source_ip", "timestamp", "tlog_index", "user_agent"]);

  const mark = body.watermarks[1] as { mark_id: string; layer: string };
  assert.equal((await (await reg.call("/attribute", { json: { mark_id: mark.mark_id, layer: mark.layer } })).json()).file_id, "attr");
  assert.equal((await (await reg.call("/attribute", { json: { mark_id: mark.mark_id } })).json()).file_id, "attr");
  assert.equal((await (await reg.call("/attribute", { json: { perceptual_hash: "ph-1" } })).json()).file_id, "attr");
  assert.deepEqual(await (await reg.call("/attribute", { json: { token_id: "nope" } })).json(), { found: false });
  const missing = await reg.call("/attribute", { json: {} });
  assert.equal(missing.status, 400);
  assert.equal((await envelope(missing)).code, "missing_field");

  const semantic = await (await reg.call("/candidates/semantic?limit=5")).json();
  assert.equal(semantic.count, 1);
  assert.deepEqual(Object.keys(semantic.candidates[0]).sort(), ["file_id", "mark_id", "recipient_id", "registered_at"]);
});

test("with operator auth disabled, /register and /attribute need no token", async (t) => {
  const reg = await startTestRegistry(t, { operatorToken: null });
  const body = createIssuer().registration({ file_id: "open" });
  const res = await reg.call("/register", { json: body, auth: false });
  assert.equal(res.status, 200);
  assert.equal(
    (await (await reg.call("/attribute", { json: { token_id: (body.beacons[0] as { token_id: string }).token_id }, auth: false })).json()).file_id,
    "open",
  );
});

test("text that cannot be canonicalized (a lone surrogate) is a 400, before or after the signature check", async (t) => {
  const reg = await startTestRegistry(t);
  const issuer = createIssuer();
  const corpus = { ...issuer.registration(), corpus: { perceptual: "bad\ud800" } };
  const signed = issuer.registration();
  (signed.manifest as Record<string, unknown>)["signature_ml_dsa"] = "\udc00";
  for (const json of [corpus, signed]) {
    const res = await reg.call("/register", { method: "POST", body: JSON.stringify(json), headers: { "content-type": "application/json" } });
    assert.equal(res.status, 400);
    assert.equal((await envelope(res)).code, "missing_field");
  }
  assert.equal(reg.service.registry.store.size(), 0);
});
