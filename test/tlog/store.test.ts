import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import { RegistryError } from "../../src/core/errors.js";
import { EMPTY_ROOT, verifyConsistency, verifyInclusion } from "../../src/tlog/merkle.js";
import { TLOG_SCHEMA_SQL, nodeId } from "../../src/tlog/schema.js";
import { MAX_LEAF_BYTES, TlogStore } from "../../src/tlog/store.js";
import { readFixture } from "../fixtures.js";
import { naiveConsistency, naiveLeafHash, naivePath, naiveRoot, prng } from "./naive.js";

interface TlogVectors {
  leaves: { index: number; leaf_data: string; leaf_hash: string }[];
  roots: { tree_size: number; root: string }[];
  inclusion_proofs: { index: number; tree_size: number; proof: string[]; root: string }[];
}

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

function tempFile(t: TestContext): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tlog-store-"));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return path.join(dir, "log.sqlite");
}

function openDb(t: TestContext, file = tempFile(t)): Database.Database {
  const db = new Database(file);
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = NORMAL");
  db.exec(TLOG_SCHEMA_SQL);
  t.after(() => {
    if (db.open) db.close();
  });
  return db;
}

function appendAll(db: Database.Database, store: TlogStore, datas: Uint8Array[]): void {
  db.transaction(() => {
    for (const d of datas) store.append(d);
  })();
}

const dataOf = (n: number, seed: number): Buffer[] => {
  const rand = prng(seed);
  return Array.from({ length: n }, (_, i) => Buffer.from(`{"i":${i},"r":"${"x".repeat(rand(80))}"}`));
};

const codeOf = (code: string) => (error: unknown) => error instanceof RegistryError && error.code === code;

test("fixture log: roots for every size and the published inclusion proofs", (t) => {
  const vectors = readFixture<TlogVectors>("tlog-vectors.json");
  const db = openDb(t);
  const store = new TlogStore(db);
  assert.equal(store.size(), 0);
  assert.deepEqual(store.root(), EMPTY_ROOT);
  db.transaction(() => {
    for (const leaf of vectors.leaves) assert.equal(store.append(Buffer.from(leaf.leaf_data, "utf8")), leaf.index);
  })();
  assert.equal(store.size(), 70);
  for (const leaf of vectors.leaves) assert.equal(hex(store.leafHashAt(leaf.index)), leaf.leaf_hash);
  for (const { tree_size, root } of vectors.roots) assert.equal(hex(store.root(tree_size)), root, `size ${tree_size}`);
  for (const { index, tree_size, proof, root } of vectors.inclusion_proofs) {
    const got = store.inclusionProof(index, tree_size);
    assert.deepEqual(got.map(hex), proof, `${index}/${tree_size}`);
    assert.ok(verifyInclusion(store.leafHashAt(index), index, tree_size, got, Buffer.from(root, "hex")));
  }
});

test("every size 1..300 of a stored log agrees with the naive reference", (t) => {
  const db = openDb(t);
  const store = new TlogStore(db);
  const datas = dataOf(300, 1);
  const hashes = datas.map(naiveLeafHash);
  const roots = [EMPTY_ROOT];
  const rand = prng(2);
  for (let n = 1; n <= 300; n++) {
    appendAll(db, store, [datas[n - 1]!]);
    roots.push(naiveRoot(hashes.slice(0, n)));
    // The current size comes from the in-memory edge, older ones from stored nodes.
    assert.deepEqual(store.root(), roots[n], `current root ${n}`);
  }
  const fullSizes = new Set([1, 2, 3, 8, 13, 64, 100, 255, 256, 257, 300]);
  for (let n = 1; n <= 300; n++) {
    const prefix = hashes.slice(0, n);
    assert.deepEqual(store.root(n), roots[n], `root ${n}`);
    const indexes = fullSizes.has(n) ? [...Array(n).keys()] : [0, n - 1, rand(n), rand(n)];
    for (const i of indexes) {
      const proof = store.inclusionProof(i, n);
      assert.deepEqual(proof, naivePath(i, prefix), `inclusion ${i}/${n}`);
      assert.ok(verifyInclusion(hashes[i]!, i, n, proof, roots[n]!));
    }
    const firsts = fullSizes.has(n) ? [...Array(n + 1).keys()] : [0, 1, n - 1, n, rand(n + 1)];
    for (const m of firsts) {
      const proof = store.consistencyProof(m, n);
      assert.deepEqual(proof, m === 0 || m === n ? [] : naiveConsistency(m, prefix), `consistency ${m}->${n}`);
      assert.ok(verifyConsistency(m, n, proof, roots[m]!, roots[n]!));
    }
  }
  assert.deepEqual(store.consistencyProof(300), []);
  assert.deepEqual(store.consistencyProof(100), store.consistencyProof(100, 300));
  assert.deepEqual(store.inclusionProof(7), store.inclusionProof(7, 300));
});

test("random pairs in a log of a few thousand leaves; appendMany equals appends", (t) => {
  const db = openDb(t);
  const store = new TlogStore(db);
  const datas = dataOf(3000, 3);
  const hashes = datas.map(naiveLeafHash);
  db.transaction(() => {
    assert.equal(store.appendMany(datas.slice(0, 1000)), 0);
    assert.equal(store.appendMany(datas.slice(1000)), 1000);
  })();
  const otherDb = openDb(t);
  const other = new TlogStore(otherDb);
  appendAll(otherDb, other, datas);
  assert.deepEqual(store.root(), other.root());
  assert.deepEqual(store.root(), naiveRoot(hashes));
  const rand = prng(4);
  for (let round = 0; round < 20; round++) {
    const n = 1 + rand(3000);
    const m = rand(n + 1);
    const i = rand(n);
    const prefix = hashes.slice(0, n);
    assert.deepEqual(store.inclusionProof(i, n), naivePath(i, prefix), `inclusion ${i}/${n}`);
    assert.deepEqual(store.consistencyProof(m, n), m === 0 || m === n ? [] : naiveConsistency(m, prefix), `consistency ${m}->${n}`);
  }
});

test("a store reopened from its file gives the same answers", (t) => {
  const file = tempFile(t);
  const db = openDb(t, file);
  const store = new TlogStore(db);
  appendAll(db, store, dataOf(1234, 5));
  const before = {
    size: store.size(),
    root: store.root(),
    old: store.root(1000),
    proof: store.inclusionProof(777),
    consistency: store.consistencyProof(999),
    tile: store.hashTile(0, 4, 210),
    bundle: store.entryBundle(2, 256),
  };
  db.close();
  const reopened = new TlogStore(openDb(t, file));
  assert.equal(reopened.size(), before.size);
  assert.deepEqual(reopened.root(), before.root);
  assert.deepEqual(reopened.root(1000), before.old);
  assert.deepEqual(reopened.inclusionProof(777), before.proof);
  assert.deepEqual(reopened.consistencyProof(999), before.consistency);
  assert.deepEqual(reopened.hashTile(0, 4, 210), before.tile);
  assert.deepEqual(reopened.entryBundle(2, 256), before.bundle);
});

test("a rolled-back append leaves no trace after reload()", (t) => {
  const db = openDb(t);
  const store = new TlogStore(db);
  const datas = dataOf(40, 6);
  appendAll(db, store, datas.slice(0, 31));
  const rootBefore = store.root();
  const countRows = () => db.prepare("SELECT (SELECT count(*) FROM tlog_leaves) + (SELECT count(*) FROM tlog_nodes)").pluck().get();
  const rowsBefore = countRows();
  db.transaction(() => {
    assert.throws(
      () =>
        db.transaction(() => {
          store.append(Buffer.from("doomed 1")); // leaf 31 completes subtrees of height 1..5
          store.append(Buffer.from("doomed 2"));
          throw new Error("job failed");
        })(),
      /job failed/,
    );
    store.reload();
    assert.equal(store.size(), 31);
    assert.deepEqual(store.root(), rootBefore);
    assert.equal(store.append(datas[31]!), 31);
  })();
  assert.equal(countRows(), (rowsBefore as number) + 1 + 5);
  appendAll(db, store, datas.slice(32));
  const freshDb = openDb(t);
  const fresh = new TlogStore(freshDb);
  appendAll(freshDb, fresh, datas);
  assert.deepEqual(store.root(), fresh.root());
  for (let n = 1; n <= 40; n++) assert.deepEqual(store.root(n), fresh.root(n));
  const reopened = new TlogStore(db);
  assert.deepEqual(reopened.root(), fresh.root());
});

test("nodes read inside a rolled-back append are forgotten by reload()", (t) => {
  const db = openDb(t);
  const store = new TlogStore(db);
  const datas = dataOf(300, 9);
  appendAll(db, store, datas.slice(0, 255));
  db.transaction(() => {
    assert.throws(
      () =>
        db.transaction(() => {
          store.appendMany([Buffer.from("doomed 255"), Buffer.from("doomed 256")]);
          // Reads the subtree of leaves 0..255 (level 8), which the rollback undoes.
          store.root(256);
          store.inclusionProof(256, 257);
          throw new Error("job failed");
        })(),
      /job failed/,
    );
    store.reload();
    store.appendMany(datas.slice(255));
  })();
  const freshDb = openDb(t);
  const fresh = new TlogStore(freshDb);
  appendAll(freshDb, fresh, datas);
  assert.deepEqual(store.root(256), fresh.root(256));
  assert.deepEqual(store.inclusionProof(256), fresh.inclusionProof(256));
  assert.deepEqual(store.consistencyProof(256, 300), fresh.consistencyProof(256, 300));
});

test("appends need the caller's transaction and bounded byte leaves", (t) => {
  const db = openDb(t);
  const store = new TlogStore(db);
  assert.throws(() => store.append(Buffer.from("x")), codeOf("server_error"));
  assert.equal(store.size(), 0);
  db.transaction(() => {
    assert.throws(() => store.append(Buffer.alloc(MAX_LEAF_BYTES + 1)), codeOf("missing_field"));
    assert.throws(() => store.append("text" as unknown as Uint8Array), codeOf("missing_field"));
    assert.throws(() => store.appendMany([Buffer.from("ok"), Buffer.alloc(MAX_LEAF_BYTES + 1)]), codeOf("missing_field"));
    assert.equal(store.size(), 0);
    assert.equal(store.append(Buffer.alloc(MAX_LEAF_BYTES, 7)), 0);
    assert.equal(store.append(new Uint8Array(0)), 1);
  })();
  assert.equal(db.prepare("SELECT count(*) FROM tlog_leaves").pluck().get(), 2);
  assert.deepEqual(
    store.leaves(0, 10).map((l) => l.leafData.length),
    [MAX_LEAF_BYTES, 0],
  );
});

test("out-of-range reads are not_found, malformed arguments missing_field", (t) => {
  const db = openDb(t);
  const store = new TlogStore(db);
  appendAll(db, store, dataOf(10, 7));
  for (const [call, code] of [
    [() => store.leafHashAt(10), "not_found"],
    [() => store.inclusionProof(10), "not_found"],
    [() => store.inclusionProof(3, 3), "not_found"],
    [() => store.inclusionProof(0, 11), "not_found"],
    [() => store.inclusionProof(0, 0), "not_found"],
    [() => store.root(11), "not_found"],
    [() => store.consistencyProof(3, 11), "not_found"],
    [() => store.consistencyProof(11), "missing_field"],
    [() => store.consistencyProof(5, 4), "missing_field"],
    [() => store.leaves(11, 1), "not_found"],
    [() => store.hashTile(0, 0, 11), "not_found"],
    [() => store.hashTile(0, 1, 1), "not_found"],
    [() => store.hashTile(1, 0, 1), "not_found"],
    [() => store.entryBundle(0, 11), "not_found"],
    [() => store.leafHashAt(-1), "missing_field"],
    [() => store.leafHashAt(1.5), "missing_field"],
    [() => store.inclusionProof(Number.NaN), "missing_field"],
    [() => store.inclusionProof(0, 2 ** 53), "missing_field"],
    [() => store.root(-1), "missing_field"],
    [() => store.leaves(0, -1), "missing_field"],
    [() => store.hashTile(0, 0, 0), "missing_field"],
    [() => store.hashTile(0, 0, 257), "missing_field"],
    [() => store.hashTile(-1, 0, 1), "missing_field"],
    [() => store.hashTile(7, 0, 1), "missing_field"],
    [() => store.entryBundle(0, 0), "missing_field"],
    [() => store.entryBundle("0" as unknown as number, 1), "missing_field"],
  ] as const) {
    assert.throws(call, codeOf(code), call.toString());
  }
  assert.deepEqual(store.leaves(10, 5), []);
  assert.deepEqual(store.root(0), EMPTY_ROOT);
});

test("leaf ranges and entry bundles return the exact leaf bytes", (t) => {
  const db = openDb(t);
  const store = new TlogStore(db);
  const datas = [...dataOf(300, 8), Buffer.from("réc ✓", "utf8"), Buffer.alloc(0), Buffer.alloc(1000, 0xff)];
  appendAll(db, store, datas);
  const page = store.leaves(295, 100);
  assert.deepEqual(
    page.map((l) => l.index),
    [295, 296, 297, 298, 299, 300, 301, 302],
  );
  for (const l of page) {
    assert.deepEqual(l.leafData, datas[l.index]);
    assert.deepEqual(l.leafHash, naiveLeafHash(datas[l.index]!));
  }
  assert.equal(store.leaves(0, 0).length, 0);
  for (const [index, width] of [
    [0, 256],
    [1, 47],
    [1, 1],
  ] as const) {
    const bundle = store.entryBundle(index, width);
    const parsed: Buffer[] = [];
    for (let at = 0; at < bundle.length; ) {
      const length = bundle.readUInt16BE(at);
      parsed.push(bundle.subarray(at + 2, at + 2 + length));
      at += 2 + length;
    }
    assert.deepEqual(parsed, datas.slice(index * 256, index * 256 + width));
  }
});

test("hash tiles hold the subtree hashes of levels 0, 8 and 16", (t) => {
  const db = openDb(t);
  const store = new TlogStore(db);
  const n = 65_536 + 600;
  const datas = Array.from({ length: n }, (_, i) => Buffer.from(String(i)));
  db.transaction(() => {
    store.appendMany(datas);
  })();
  const hashes = datas.map(naiveLeafHash);
  const level0 = store.hashTile(0, 256, 256);
  assert.deepEqual(level0, Buffer.concat(hashes.slice(65_536, 65_792)));
  assert.deepEqual(store.hashTile(0, 258, 600 - 512), Buffer.concat(hashes.slice(66_048, n)));
  const level1 = store.hashTile(1, 0, 256);
  assert.equal(level1.length, 256 * 32);
  for (const j of [0, 1, 128, 255]) {
    assert.deepEqual(level1.subarray(j * 32, j * 32 + 32), naiveRoot(hashes.slice(j * 256, j * 256 + 256)), `entry ${j}`);
  }
  assert.deepEqual(store.hashTile(1, 1, 2), Buffer.concat([naiveRoot(hashes.slice(65_536, 65_792)), naiveRoot(hashes.slice(65_792, 66_048))]));
  assert.throws(() => store.hashTile(1, 1, 3), codeOf("not_found"));
  assert.deepEqual(store.hashTile(2, 0, 1), store.root(65_536));
  assert.throws(() => store.hashTile(2, 0, 2), codeOf("not_found"));
});

test("batched reads: every proof, root and tile of many sizes matches the naive RFC 6962 one and costs one statement", (t) => {
  const statements: string[] = [];
  const db = new Database(tempFile(t), { verbose: (sql) => statements.push(String(sql)) });
  t.after(() => db.close());
  db.exec(TLOG_SCHEMA_SQL);
  const store = new TlogStore(db);
  const datas = dataOf(1100, 11);
  const hashes = datas.map(naiveLeafHash);
  appendAll(db, store, datas);
  const counted = <T>(what: string, read: () => T): T => {
    statements.length = 0;
    const value = read();
    assert.ok(statements.length <= 1, `${what} ran ${statements.length} statements: ${statements.join(" | ")}`);
    return value;
  };
  const rand = prng(12);
  for (let n = 1; n <= 1100; n += n < 300 ? 1 : 1 + rand(40)) {
    const prefix = hashes.slice(0, n);
    const i = rand(n);
    const m = rand(n + 1);
    const inclusion = counted(`inclusion ${i}/${n}`, () => store.inclusion(i, n));
    assert.deepEqual(inclusion, { leafHash: hashes[i], path: naivePath(i, prefix), root: naiveRoot(prefix) }, `inclusion ${i}/${n}`);
    assert.deepEqual(
      counted(`root ${n}`, () => store.root(n)),
      naiveRoot(prefix),
    );
    const expected = m === 0 || m === n ? [] : naiveConsistency(m, prefix);
    assert.deepEqual(
      counted(`consistency ${m}->${n}`, () => store.consistencyProof(m, n)),
      expected,
      `consistency ${m}->${n}`,
    );
    const many = Array.from({ length: 1 + rand(30) }, () => rand(n));
    const paths = counted(`${many.length} proofs at ${n}`, () => store.inclusionProofs(many, n));
    assert.deepEqual(
      paths,
      many.map((index) => naivePath(index, prefix)),
      `proofs of ${many.join(",")} at ${n}`,
    );
    const datasAt = counted(`leaf data of ${many.length} leaves`, () => store.leafData(many));
    for (const index of many) assert.deepEqual(datasAt.get(index), Buffer.from(datas[index]!));
  }
  for (const [level, width] of [
    [0, 256],
    [1, 4],
  ] as const) {
    const tile = counted(`tile ${level}`, () => store.hashTile(level, 0, width));
    assert.equal(tile.length, width * 32);
  }
});

test("with a node cache smaller than the tree, proofs and roots stay right as the log grows and after a rollback", (t) => {
  const db = openDb(t);
  // 2 KiB: the lowest cached level climbs from 1 to 7 over 1,500 leaves.
  const store = new TlogStore(db, { nodeCacheBytes: 2048 });
  const datas = dataOf(1500, 21);
  const hashes = datas.map(naiveLeafHash);
  const rand = prng(22);
  let n = 0;
  while (n < datas.length) {
    const next = Math.min(datas.length, n + 1 + rand(97));
    appendAll(db, store, datas.slice(n, next));
    n = next;
    const prefix = hashes.slice(0, n);
    for (const i of [0, n - 1, rand(n), rand(n)]) {
      assert.deepEqual(store.inclusion(i, n), { leafHash: hashes[i], path: naivePath(i, prefix), root: naiveRoot(prefix) }, `${i}/${n}`);
      const m = 1 + rand(n);
      assert.deepEqual(store.inclusionProof(i % m, m), naivePath(i % m, hashes.slice(0, m)), `${i % m}/${m}`);
    }
  }
  // Nodes of an append that is rolled back are read (and cached) inside it, then forgotten.
  assert.throws(() =>
    db.transaction(() => {
      store.appendMany(dataOf(300, 23));
      store.inclusionProof(0);
      throw new Error("roll back");
    })(),
  );
  store.reload();
  appendAll(db, store, dataOf(300, 24));
  const all = [...hashes, ...dataOf(300, 24).map(naiveLeafHash)];
  for (const i of [0, 700, 1499, 1500, 1799]) assert.deepEqual(store.inclusionProof(i), naivePath(i, all), `${i}/1800 after the rollback`);
  assert.deepEqual(store.root(), naiveRoot(all));
});

test("once the upper levels are cached, a proof at the current size reads one run of leaf hashes, not nodes", (t) => {
  const statements: string[] = [];
  const db = new Database(tempFile(t), { verbose: (sql) => statements.push(String(sql)) });
  t.after(() => db.close());
  db.exec(TLOG_SCHEMA_SQL);
  // At 1,000 leaves, 4 KiB holds levels 4 and up (runs of 16 leaves); 2 KiB levels 5 and up, beyond the leaf runs.
  for (const [budget, viaLeaves] of [
    [4096, true],
    [2048, false],
  ] as const) {
    const store = new TlogStore(db, { nodeCacheBytes: budget });
    if (store.size() === 0) appendAll(db, store, dataOf(1000, 31));
    const hashes = dataOf(1000, 31).map(naiveLeafHash);
    for (let i = 0; i < 1000; i++) store.inclusionProof(i);
    for (const i of [0, 77, 500, 999]) {
      statements.length = 0;
      assert.deepEqual(store.inclusionProof(i), naivePath(i, hashes), `${i} with ${budget} bytes`);
      assert.equal(statements.length, 1, statements.join(" | "));
      assert.equal(statements[0]!.includes("tlog_nodes"), !viaLeaves, `${i} with ${budget} bytes: ${statements[0]}`);
    }
  }
});

test("warmNodeCache fills the cached levels in bounded slices; then every proof at the current size reads one run of leaf hashes", (t) => {
  const statements: string[] = [];
  const db = new Database(tempFile(t), { verbose: (sql) => statements.push(String(sql)) });
  t.after(() => db.close());
  db.exec(TLOG_SCHEMA_SQL);
  // 4 KiB at 1,000 leaves: levels 4 and up, 62 + 31 + 15 + 7 + 3 + 1 = 119 complete subtrees.
  const store = new TlogStore(db, { nodeCacheBytes: 4096 });
  appendAll(db, store, dataOf(1000, 41));
  const hashes = dataOf(1000, 41).map(naiveLeafHash);
  statements.length = 0;
  let slices = 1;
  while (!store.warmNodeCache(50)) slices++;
  assert.equal(slices, 3, "119 nodes in slices of at most 50");
  assert.equal(statements.length, 3, statements.join(" | "));
  assert.equal(store.warmNodeCache(50), true, "a full cache stays full");
  for (const i of [0, 1, 77, 500, 998, 999]) {
    statements.length = 0;
    assert.deepEqual(store.inclusion(i), { leafHash: hashes[i], path: naivePath(i, hashes), root: naiveRoot(hashes) }, `${i}`);
    assert.equal(statements.length, 1, statements.join(" | "));
    assert.ok(!statements[0]!.includes("tlog_nodes"), `${i}: ${statements[0]}`);
  }
  // A slice looks at no more than 16 nodes a node it may read, even when proofs have cached them all.
  const other = new TlogStore(db, { nodeCacheBytes: 4096 });
  for (let i = 0; i < 1000; i++) other.inclusionProof(i);
  statements.length = 0;
  let calls = 1;
  while (!other.warmNodeCache(1)) calls++;
  assert.equal(calls, Math.ceil(119 / 16));
  assert.deepEqual(statements, []);
  // A rollback forgets the cache and where the warming was; warming again fills it from the top.
  store.reload();
  assert.equal(store.warmNodeCache(1000), true);
  for (const i of [3, 640]) assert.deepEqual(store.inclusionProof(i), naivePath(i, hashes));
});

test("warmNodeCache refuses to cache a node the store lacks", (t) => {
  const db = openDb(t);
  const store = new TlogStore(db, { nodeCacheBytes: 4096 });
  appendAll(db, store, dataOf(1000, 42));
  db.prepare("DELETE FROM tlog_nodes WHERE id = ?").run(nodeId(5, 3));
  assert.throws(() => {
    while (!store.warmNodeCache(1000));
  }, codeOf("server_error"));
});
