import assert from "node:assert/strict";
import { test } from "node:test";
import { verifyCheckpoint } from "../../src/tlog/checkpoint.js";
import { verifyTreeHead } from "../../src/tlog/heads.js";
import { RANGE_PIECE } from "../../src/registry/log-reads.js";
import { EMPTY_ROOT, leafHash, verifyConsistency, verifyInclusion } from "../../src/tlog/merkle.js";
import { envelope, startTestRegistry } from "./registry-server.js";

const hex = (s: string) => Buffer.from(s, "hex");

async function registryWithLeaves(t: import("node:test").TestContext, n: number) {
  const reg = await startTestRegistry(t);
  await Promise.all(Array.from({ length: n }, (_, i) => reg.call(`/v/token-${i}`)));
  return reg;
}

test("empty log: head of size 0 with the empty root", async (t) => {
  const reg = await startTestRegistry(t);
  const head = await (await reg.call("/tlog/head")).json();
  assert.equal(head.size, 0);
  assert.equal(head.root, EMPTY_ROOT.toString("hex"));
  assert.ok(verifyTreeHead(head, reg.service.registry.identity.publicKeyHex));
  assert.equal((await reg.call("/tlog/proof/0")).status, 404);
});

test("head, proofs at current and older sizes, consistency, range", async (t) => {
  const reg = await registryWithLeaves(t, 300);
  const pub = reg.service.registry.identity.publicKeyHex;
  const head = await (await reg.call("/tlog/head")).json();
  assert.equal(head.size, 300);
  assert.ok(verifyTreeHead(head, pub));
  assert.equal(head.signed_message, JSON.stringify({ root: head.root, size: 300 }));

  const range = await (await reg.call("/tlog/range?start=250&limit=5000")).json();
  assert.equal(range.count, 50, "limit is clamped, the window ends at the log's end");
  for (const entry of range.entries) {
    assert.equal(leafHash(hex(entry.leaf_data_hex)).toString("hex"), entry.leaf_hash);
    assert.equal(hex(entry.leaf_data_hex).toString("utf8"), entry.leaf_data);
  }
  assert.equal((await (await reg.call("/tlog/range?limit=0")).json()).count, 1);
  for (const bad of [
    "/tlog/range?start=-1",
    "/tlog/range?start=abc",
    "/tlog/range?limit=1e3",
    "/tlog/proof/x",
    "/tlog/consistency?first=5&second=2",
    "/tlog/consistency",
  ]) {
    const res = await reg.call(bad);
    assert.equal(res.status, 400, bad);
    assert.equal((await envelope(res)).code, "missing_field", bad);
  }

  for (const index of [0, 1, 137, 299]) {
    const proof = await (await reg.call(`/tlog/proof/${index}`)).json();
    assert.deepEqual(Object.keys(proof).sort(), ["index", "leaf_hash", "proof", "root", "tree_size"]);
    assert.equal(proof.root, head.root);
    assert.ok(verifyInclusion(hex(proof.leaf_hash), index, 300, proof.proof.map(hex), hex(head.root)));
  }
  const older = await (await reg.call("/tlog/proof/20?tree_size=100")).json();
  assert.equal(older.tree_size, 100);
  const consistency = await (await reg.call("/tlog/consistency?first=100&second=300")).json();
  assert.ok(verifyConsistency(100, 300, consistency.proof.map(hex), hex(older.root), hex(head.root)));
  assert.ok(verifyInclusion(hex(older.leaf_hash), 20, 100, older.proof.map(hex), hex(older.root)));
  assert.deepEqual((await (await reg.call("/tlog/consistency?first=0")).json()).proof, []);
  assert.deepEqual((await (await reg.call("/tlog/consistency?first=300&second=300")).json()).proof, []);
  for (const missing of ["/tlog/proof/300", "/tlog/proof/5?tree_size=5", "/tlog/proof/1?tree_size=301", "/tlog/consistency?first=1&second=301"]) {
    const res = await reg.call(missing);
    assert.equal(res.status, 404, missing);
    assert.equal((await envelope(res)).code, "not_found");
  }
});

test("checkpoint and tiles agree with the head and the leaves", async (t) => {
  const reg = await registryWithLeaves(t, 260);
  const wellKnown = await (await reg.call("/.well-known/oversight-registry")).json();
  assert.equal(wellKnown.federation.spec_version, "v1");
  assert.equal(wellKnown.federation.checkpoint_origin, "test.example/oversight-registry");
  const res = await reg.call("/checkpoint");
  assert.equal(res.headers.get("content-type"), "text/plain; charset=utf-8");
  const checkpoint = verifyCheckpoint(await res.text(), wellKnown.federation.checkpoint_vkey);
  const head = await (await reg.call("/tlog/head")).json();
  assert.equal(checkpoint.size, 260);
  assert.equal(Buffer.from(checkpoint.root).toString("hex"), head.root);

  const full = await reg.call("/tile/0/000");
  assert.equal(full.headers.get("cache-control"), "public, max-age=31536000, immutable");
  const tile = Buffer.from(await full.arrayBuffer());
  assert.equal(tile.length, 256 * 32);
  const leaves = (await (await reg.call("/tlog/range?start=0&limit=1000")).json()).entries;
  for (let i = 0; i < 256; i++) assert.equal(tile.subarray(i * 32, i * 32 + 32).toString("hex"), leaves[i].leaf_hash);
  const partial = await reg.call("/tile/0/001.p/4");
  assert.equal(partial.headers.get("cache-control"), "public, max-age=5");
  assert.equal((await partial.arrayBuffer()).byteLength, 4 * 32);
  const level1 = Buffer.from(await (await reg.call("/tile/1/000.p/1")).arrayBuffer());
  assert.equal(level1.length, 32);
  const bundle = Buffer.from(await (await reg.call("/tile/entries/001.p/4")).arrayBuffer());
  let offset = 0;
  for (let i = 256; i < 260; i++) {
    const length = bundle.readUInt16BE(offset);
    assert.equal(bundle.subarray(offset + 2, offset + 2 + length).toString("hex"), leaves[i].leaf_data_hex);
    offset += 2 + length;
  }
  assert.equal(offset, bundle.length);
  for (const missing of ["/tile/0/001", "/tile/0/001.p/5", "/tile/0/0001", "/tile/x/000", "/tile/2/000.p/1"]) {
    const res = await reg.call(missing);
    assert.equal(res.status, 404, missing);
    assert.equal((await envelope(res)).code, "not_found");
  }
});

test("range: SQLite's JSON of each leaf is the leaf's exact text, hash and hex, for any characters; a leaf that does not match its hash or is not UTF-8 fails the request", async (t) => {
  const reg = await startTestRegistry(t);
  const agents = ['quote " backslash \\ slash /', "control \u0001\u001f tab\t newline\n", "non-ASCII é € 😀 \u2028\u2029", "", "x".repeat(1024)];
  for (const userAgent of agents) await reg.service.events.beacon({ kind: "http_img", tokenId: "tok", sourceIp: "192.0.2.1", userAgent });
  const res = await reg.call("/tlog/range?start=0&limit=10");
  assert.equal(res.headers.get("content-type"), "application/json; charset=utf-8");
  const text = await res.text();
  const range = JSON.parse(text);
  const stored = reg.service.registry.store.leaves(0, agents.length);
  const expected = {
    start: 0,
    count: agents.length,
    entries: stored.map((leaf) => ({
      index: leaf.index,
      leaf_hash: leafHash(leaf.leafData).toString("hex"),
      leaf_data: leaf.leafData.toString("utf8"),
      leaf_data_hex: leaf.leafData.toString("hex"),
    })),
  };
  assert.deepEqual(range, expected);
  assert.equal(text, JSON.stringify(expected), "byte for byte what JSON.stringify writes for the page, envelope included");
  const tail = await reg.call("/tlog/range?start=3&limit=2");
  assert.equal(await tail.text(), JSON.stringify({ ...expected, start: 3, count: 2, entries: expected.entries.slice(3) }));
  const head = await reg.call("/tlog/range?start=0&limit=10", { method: "HEAD" });
  assert.equal(head.status, 200);
  assert.equal(head.headers.get("content-length"), String(Buffer.byteLength(text)), "HEAD announces the length of the answer's parts together");
  assert.equal(await head.text(), "");
  assert.deepEqual(
    range.entries.map((e: { leaf_data: string }) => JSON.parse(e.leaf_data).user_agent),
    agents,
  );
  assert.deepEqual(await (await reg.call("/tlog/range?start=5")).json(), { start: 5, count: 0, entries: [] });

  reg.service.registry.db.prepare("UPDATE tlog_leaves SET leaf_data = CAST('{}' AS BLOB) WHERE idx = 3").run();
  const broken = await reg.call("/tlog/range?start=0&limit=10");
  assert.equal(broken.status, 500);
  assert.equal((await envelope(broken)).code, "server_error");
  assert.equal((await (await reg.call("/tlog/range?start=4&limit=1")).json()).count, 1);

  const notText = Buffer.from([0x7b, 0xff, 0x7d]);
  reg.service.registry.db.prepare("UPDATE tlog_leaves SET leaf_data = ?, leaf_hash = ? WHERE idx = 4").run(notText, leafHash(notText));
  const lossy = await reg.call("/tlog/range?start=4&limit=1");
  assert.equal(lossy.status, 500, "a leaf that is not UTF-8 has no exact text to answer");
  assert.equal((await envelope(lossy)).code, "server_error");
});

test("range: a window of several statement pieces is the exact JSON of the whole page, wherever it starts, and a bad leaf in any piece fails it", async (t) => {
  const n = 2 * RANGE_PIECE + 7;
  const reg = await registryWithLeaves(t, n);
  const entries = reg.service.registry.store.leaves(0, n).map((leaf) => ({
    index: leaf.index,
    leaf_hash: leafHash(leaf.leafData).toString("hex"),
    leaf_data: leaf.leafData.toString("utf8"),
    leaf_data_hex: leaf.leafData.toString("hex"),
  }));
  for (const [start, limit] of [
    [0, 1000],
    [1, RANGE_PIECE],
    [RANGE_PIECE - 1, RANGE_PIECE + 2],
    [RANGE_PIECE, RANGE_PIECE],
    [5, n],
  ] as const) {
    const page = entries.slice(start, start + limit);
    const res = await reg.call(`/tlog/range?start=${start}&limit=${limit}`);
    const text = await res.text();
    assert.equal(text, JSON.stringify({ start, count: page.length, entries: page }), `start ${start}, limit ${limit}`);
    assert.equal(res.headers.get("content-length"), String(Buffer.byteLength(text)));
  }

  reg.service.registry.db.prepare(`UPDATE tlog_leaves SET leaf_data = CAST('{}' AS BLOB) WHERE idx = ${n - 1}`).run();
  const broken = await reg.call("/tlog/range?start=0&limit=1000");
  assert.equal(broken.status, 500, "the leaf in the last piece is checked too");
  assert.equal((await envelope(broken)).code, "server_error");
  const before = await reg.call(`/tlog/range?start=0&limit=${n - 1}`);
  assert.equal(
    await before.text(),
    JSON.stringify({ start: 0, count: n - 1, entries: entries.slice(0, n - 1) }),
    "a failed window leaves no trace in the next",
  );
});
