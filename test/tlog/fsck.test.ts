import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import { checkLog, type FsckReport } from "../../src/tlog/fsck.js";
import { EMPTY_ROOT } from "../../src/tlog/merkle.js";
import { nodeId, TLOG_SCHEMA_SQL } from "../../src/tlog/schema.js";
import { TlogStore } from "../../src/tlog/store.js";
import { naiveLeafHash, naiveRoot } from "./naive.js";

const SIZE = 1000;

function logOf(t: TestContext, size = SIZE): { db: Database.Database; store: TlogStore; datas: Buffer[] } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tlog-fsck-"));
  const db = new Database(path.join(dir, "log.sqlite"));
  t.after(() => {
    db.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  db.pragma("journal_mode = WAL");
  db.exec(TLOG_SCHEMA_SQL);
  const store = new TlogStore(db);
  const datas = Array.from({ length: size }, (_, i) => Buffer.from(`{"event":"test","n":${i}}`));
  db.transaction(() => {
    store.appendMany(datas);
  })();
  return { db, store, datas };
}

/**
 * The report, after checking that chunking and worker threads do not change
 * it: whole log in one chunk, small chunks in this thread, small chunks on
 * two workers (so chunk borders and the nodes above them are exercised).
 */
function check(db: Database.Database): FsckReport {
  const whole = checkLog(db, { threads: 1, chunkSize: 2 ** 20 });
  assert.deepEqual(checkLog(db, { threads: 1, chunkSize: 64 }), whole, "chunks of 64 in one thread");
  assert.deepEqual(checkLog(db, { threads: 3, chunkSize: 64 }), whole, "chunks of 64 on workers");
  return whole;
}

const flipFirstByte = (b: Buffer): Buffer => {
  const c = Buffer.from(b);
  c[0]! ^= 0x01;
  return c;
};

test("a healthy log passes, with its root and progress", (t) => {
  const { db, store, datas } = logOf(t);
  const progress: [number, number][] = [];
  const report = checkLog(db, { onProgress: (done, total) => progress.push([done, total]), chunkSize: 128, threads: 2 });
  assert.deepEqual(report, {
    tlog_size: SIZE,
    leaves_checked: SIZE,
    root: naiveRoot(datas.map(naiveLeafHash)).toString("hex"),
    leaf_hash_mismatches: 0,
    node_hash_mismatches: 0,
    missing_nodes: 0,
    extra_nodes: 0,
    non_contiguous: 0,
    first_bad_indexes: [],
    signed_size: null,
    signed_root_matches: null,
    ok: true,
  });
  assert.equal(report.root, store.root().toString("hex"));
  assert.deepEqual(progress.at(-1), [SIZE, SIZE]);
  assert.equal(progress.length, Math.ceil(SIZE / 128));
  assert.deepEqual(check(db), report);
  assert.deepEqual(JSON.parse(JSON.stringify(report)), report);
});

test("an empty log passes with the empty root", (t) => {
  const { db } = logOf(t, 0);
  const report = check(db);
  assert.equal(report.ok, true);
  assert.equal(report.tlog_size, 0);
  assert.equal(report.root, EMPTY_ROOT.toString("hex"));
});

test("a flipped leaf byte is one leaf mismatch, and the root is the data's", (t) => {
  const { db, store, datas } = logOf(t);
  db.prepare("UPDATE tlog_leaves SET leaf_data = ? WHERE idx = 517").run(flipFirstByte(datas[517]!));
  const report = check(db);
  assert.equal(report.ok, false);
  assert.equal(report.leaf_hash_mismatches, 1);
  assert.equal(report.node_hash_mismatches, 0);
  assert.deepEqual(report.first_bad_indexes, [517]);
  const tampered = datas.map((d, i) => (i === 517 ? flipFirstByte(d) : d));
  assert.equal(report.root, naiveRoot(tampered.map(naiveLeafHash)).toString("hex"));
  assert.notEqual(report.root, store.root().toString("hex"));
});

test("arbitrary binary leaves are rehashed byte for byte", (t) => {
  const { db, store } = logOf(t, 0);
  const datas = Array.from({ length: 300 }, (_, i) => Buffer.from(Array.from({ length: i % 70 }, (_, j) => (i * 31 + j * 7) & 0xff)));
  datas.push(Buffer.from([0x00]), Buffer.from([0xff, 0xfe, 0x00, 0x80]), Buffer.from("🙂", "utf8").subarray(0, 3));
  db.transaction(() => {
    store.appendMany(datas);
  })();
  const report = check(db);
  assert.equal(report.ok, true, JSON.stringify(report));
  assert.equal(report.root, naiveRoot(datas.map(naiveLeafHash)).toString("hex"));
});

test("a leaf stored as text instead of bytes is reported", (t) => {
  const { db } = logOf(t);
  db.prepare("UPDATE tlog_leaves SET leaf_data = CAST(leaf_data AS TEXT) WHERE idx = 10").run();
  const report = check(db);
  assert.equal(report.ok, false);
  assert.equal(report.leaf_hash_mismatches, 1);
  assert.deepEqual(report.first_bad_indexes, [10]);
});

test("a flipped stored leaf hash is caught", (t) => {
  const { db, store } = logOf(t);
  db.prepare("UPDATE tlog_leaves SET leaf_hash = ? WHERE idx = 3").run(flipFirstByte(store.leafHashAt(3)));
  const report = check(db);
  assert.equal(report.ok, false);
  assert.equal(report.leaf_hash_mismatches, 1);
  assert.ok(report.first_bad_indexes.includes(3));
  assert.equal(report.root, store.root().toString("hex"));
});

test("a flipped node hash is one node mismatch at its last leaf", (t) => {
  const { db } = logOf(t);
  const id = nodeId(4, 10); // leaves 160..175
  const hash = db.prepare("SELECT hash FROM tlog_nodes WHERE id = ?").pluck().get(id) as Buffer;
  db.prepare("UPDATE tlog_nodes SET hash = ? WHERE id = ?").run(flipFirstByte(hash), id);
  const report = check(db);
  assert.equal(report.ok, false);
  assert.equal(report.node_hash_mismatches, 1);
  assert.equal(report.leaf_hash_mismatches, 0);
  assert.equal(report.missing_nodes, 0);
  assert.deepEqual(report.first_bad_indexes, [175]);
});

test("a deleted node is missing; a stray node is extra", (t) => {
  const { db } = logOf(t);
  db.prepare("DELETE FROM tlog_nodes WHERE id = ?").run(nodeId(1, 200));
  let report = check(db);
  assert.equal(report.ok, false);
  assert.equal(report.missing_nodes, 1);
  assert.equal(report.node_hash_mismatches, 0);
  assert.deepEqual(report.first_bad_indexes, [401]);
  db.prepare("INSERT INTO tlog_nodes (id, hash) VALUES (?, ?)").run(nodeId(1, 200), Buffer.alloc(32));
  db.prepare("INSERT INTO tlog_nodes (id, hash) VALUES (?, ?)").run(nodeId(1, SIZE / 2), Buffer.alloc(32));
  report = check(db);
  assert.equal(report.missing_nodes, 0);
  assert.equal(report.node_hash_mismatches, 1);
  assert.equal(report.extra_nodes, 1);
});

test("a gap among the leaves is non-contiguous and leaves no root", (t) => {
  const { db } = logOf(t);
  db.prepare("DELETE FROM tlog_leaves WHERE idx = 600").run();
  const report = check(db);
  assert.equal(report.ok, false);
  assert.equal(report.non_contiguous, 1);
  assert.equal(report.root, null);
  assert.equal(report.leaves_checked, SIZE - 1);
  assert.deepEqual(report.first_bad_indexes, [600]);
});

test("the largest signed head must match the leaf data", (t) => {
  const { db, store } = logOf(t);
  const sign = (size: number, root: Buffer) => db.prepare("INSERT OR REPLACE INTO tlog_signed (id, size, root, signed_at) VALUES (1, ?, ?, 0)").run(size, root);
  for (const size of [0, 1, 640, 700, SIZE]) {
    sign(size, store.root(size));
    const report = check(db);
    assert.equal(report.signed_size, size);
    assert.equal(report.signed_root_matches, true, `signed at ${size}`);
    assert.equal(report.ok, true);
  }
  sign(700, store.root(700));
  let report = check(db);
  assert.equal(report.signed_root_matches, true);
  sign(700, store.root(699));
  report = check(db);
  assert.equal(report.signed_root_matches, false);
  assert.equal(report.ok, false);
  sign(SIZE + 1, store.root());
  report = check(db);
  assert.equal(report.signed_root_matches, false);
});
