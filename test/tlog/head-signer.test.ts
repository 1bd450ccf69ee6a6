import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { signerFromSeed, type Signer } from "../../src/core/ed25519.js";
import { verifyCheckpoint } from "../../src/tlog/checkpoint.js";
import { loadOrCreateIdentity } from "../../src/core/identity.js";
import { openDatabase } from "../../src/registry/database.js";
import { Registry } from "../../src/registry/registry.js";
import { ForkError, HeadSigner, recordCommitted } from "../../src/tlog/head-signer.js";
import { verifyTreeHead, type SignedTreeHead } from "../../src/tlog/heads.js";
import { parseVerifierKey } from "../../src/tlog/note.js";
import { TLOG_SCHEMA_SQL } from "../../src/tlog/schema.js";
import { readStateFile, readStateSlots, SIGNED_HEAD_FILE, signedHeadFile, SignedHeadRow } from "../../src/tlog/signed-head-record.js";
import { TlogStore } from "../../src/tlog/store.js";
import { readFixture } from "../fixtures.js";
import { tempDir } from "../temp.js";

const vectors = readFixture("tlog-vectors.json");
const fixtureLeaves: Buffer[] = vectors.leaves.map((l: { leaf_data: string }) => Buffer.from(l.leaf_data, "utf8"));
const ORIGIN = "registry.example/oversight-registry";
const SEED = Buffer.alloc(32, 9);

/** Each test database gets its own state file, so two logs in one temp dir do not share one. */
const stateFileFor = (dbFile: string): string => `${dbFile}.${SIGNED_HEAD_FILE}`;

interface Log {
  file: string;
  db: Database.Database;
  store: TlogStore;
}

function openLog(t: TestContext, file: string): Log {
  const db = new Database(file);
  db.pragma("journal_mode = WAL");
  db.exec(TLOG_SCHEMA_SQL);
  t.after(() => db.close());
  return { file, db, store: new TlogStore(db) };
}

function append(log: Log, leaves: Buffer[]): void {
  log.db.transaction(() => {
    for (const leaf of leaves) log.store.append(leaf);
  })();
}

/** A consistent copy of the database as it is now: what an operator would restore. */
function backup(log: Log, file: string): string {
  log.db.exec(`VACUUM INTO '${file.replaceAll("'", "''")}'`);
  return file;
}

/** A real Ed25519 signer that counts its signatures, to see when the HeadSigner re-signs. */
function countingSigner(): { signer: Signer; count: () => number } {
  const inner = signerFromSeed(SEED);
  let count = 0;
  return {
    signer: {
      publicKey: inner.publicKey,
      publicKeyHex: inner.publicKeyHex,
      sign: (m) => {
        count++;
        return inner.sign(m);
      },
    },
    count: () => count,
  };
}

function headSigner(log: Log, stateFile = stateFileFor(log.file), signer: Signer = signerFromSeed(SEED)): HeadSigner {
  let clock = 1_700_000_000;
  return new HeadSigner({ db: log.db, store: log.store, signer, origin: ORIGIN, stateFile, clock: () => clock++ });
}

function dbRecord(log: Log): { size: number; root: string } | undefined {
  const row = log.db.prepare("SELECT size, root FROM tlog_signed WHERE id = 1").get() as { size: number; root: Buffer } | undefined;
  return row && { size: row.size, root: row.root.toString("hex") };
}

function fileRecord(stateFile: string): { size: number; root: string } {
  const record = readStateFile(stateFile)!;
  return { size: record.size, root: record.root.toString("hex") };
}

/** What a start-up does: check, persist, sign; returns the head reads then serve. */
function published(hs: HeadSigner): SignedTreeHead {
  hs.publishCurrent();
  return hs.head();
}

/** What the write sequencer does: the leaves and the row in one transaction, then the publication. */
async function commit(log: Log, hs: HeadSigner, leaves: Buffer[]): Promise<SignedTreeHead> {
  log.db.transaction(() => {
    for (const leaf of leaves) log.store.append(leaf);
    recordCommitted(new SignedHeadRow(log.db), log.store, Math.floor(Date.now() / 1000));
  })();
  await hs.publish();
  return hs.head();
}

const otherLeaves = (n: number, tag: string): Buffer[] => Array.from({ length: n }, (_, i) => Buffer.from(`{"other":"${tag}","i":${i}}`));

test("head() signs the current tree, matching the reference registry's head for the fixture log", (t) => {
  const log = openLog(t, path.join(tempDir(t, "head-signer-"), "a.sqlite"));
  append(log, fixtureLeaves);
  const signer = headSigner(log);
  signer.verifyNotForked();
  const head = published(signer);
  assert.equal(head.size, 70);
  assert.equal(head.root, vectors.signed_head.root);
  assert.equal(head.signed_message, vectors.signed_head.signed_message);
  assert.equal(verifyTreeHead(head, signerFromSeed(SEED).publicKey), true);
});

test("the empty log gets a head too (root = SHA-256 of nothing), which needs no record: every log extends it", (t) => {
  const log = openLog(t, path.join(tempDir(t, "head-signer-"), "a.sqlite"));
  const head = published(headSigner(log));
  assert.equal(head.size, 0);
  assert.equal(head.root, vectors.empty_root);
  assert.equal(dbRecord(log), undefined);
  assert.equal(fs.existsSync(stateFileFor(log.file)), false);
});

test("the largest signed size and root are persisted in the database and the state file", async (t) => {
  const dir = tempDir(t, "head-signer-");
  const log = openLog(t, path.join(dir, "a.sqlite"));
  const stateFile = stateFileFor(log.file);
  assert.equal(path.dirname(stateFile), dir);
  append(log, fixtureLeaves.slice(0, 10));
  const signer = headSigner(log);
  const head10 = published(signer);
  assert.deepEqual(dbRecord(log), { size: 10, root: head10.root });
  assert.deepEqual(fileRecord(stateFile), { size: 10, root: head10.root });
  assert.equal(fs.statSync(stateFile).mode & 0o777, 0o600);
  assert.deepEqual(
    fs.readdirSync(dir).filter((f) => f.endsWith(".tmp")),
    [],
  );

  const head20 = await commit(log, signer, fixtureLeaves.slice(10, 20));
  assert.deepEqual(dbRecord(log), { size: 20, root: head20.root });
  assert.deepEqual(fileRecord(stateFile), { size: 20, root: head20.root });
  const largest = signer.largestSigned();
  assert.equal(largest?.size, 20);
  assert.equal(largest?.root.toString("hex"), head20.root);
});

test("reads never sign or write: a head is signed once per publication, and a publication at the same size does nothing", async (t) => {
  const log = openLog(t, path.join(tempDir(t, "head-signer-"), "a.sqlite"));
  append(log, fixtureLeaves.slice(0, 3));
  const { signer, count } = countingSigner();
  const hs = headSigner(log, undefined, signer);
  const first = published(hs);
  assert.equal(count(), 2, "the head and the checkpoint");
  const signedAt = log.db.prepare("SELECT signed_at FROM tlog_signed").pluck().get();
  assert.equal(hs.head(), first);
  hs.checkpoint();
  await hs.publish();
  assert.equal(hs.head(), first);
  assert.equal(count(), 2);
  assert.equal(log.db.prepare("SELECT signed_at FROM tlog_signed").pluck().get(), signedAt);

  append(log, fixtureLeaves.slice(3, 4));
  assert.equal(hs.head(), first, "a read at a new size serves the published head, it does not sign");
  assert.equal(count(), 2);
  const second = await commit(log, hs, []);
  assert.notEqual(second, first);
  assert.equal(second.size, 4);
  assert.equal(count(), 4);
  assert.equal(hs.head(), second);
  assert.equal(count(), 4);
});

test("the state file takes each new record in place, in the slot that does not hold the newest; an earlier one-object file is read and rewritten", async (t) => {
  const log = openLog(t, path.join(tempDir(t, "head-signer-"), "a.sqlite"));
  const stateFile = stateFileFor(log.file);
  append(log, fixtureLeaves.slice(0, 2));
  const root2 = log.store.root(2).toString("hex");
  fs.writeFileSync(stateFile, `${JSON.stringify({ size: 2, root: root2, signed_at: 7 })}\n`);
  const hs = headSigner(log);
  hs.verifyNotForked();
  assert.equal(published(hs).size, 2);
  const head3 = await commit(log, hs, fixtureLeaves.slice(2, 3));
  assert.deepEqual(
    readStateSlots(stateFile)!.slots.map((slot) => slot!.size),
    [3, 3],
    "the earlier format is rewritten whole, the record in both slots",
  );
  assert.equal(fileRecord(stateFile).root, head3.root);
  const inode = fs.statSync(stateFile).ino;
  for (let size = 4; size <= 6; size++) {
    const head = await commit(log, hs, fixtureLeaves.slice(size - 1, size));
    assert.deepEqual(fileRecord(stateFile), { size, root: head.root });
    const slots = readStateSlots(stateFile)!;
    assert.equal(slots.legacy, false);
    assert.deepEqual(slots.slots.map((slot) => slot!.size).sort(), [size - 1, size], "the newest record and the one before it");
  }
  assert.equal(fs.statSync(stateFile).ino, inode, "written in place after the first rewrite: no rename");

  // A slot torn by a crash mid-write: the other one is the record, and the next write goes over the torn one.
  const bytes = fs.readFileSync(stateFile);
  const newest = readStateSlots(stateFile)!.slots.findIndex((slot) => slot!.size === 6);
  bytes.fill(0x20, newest * 192 + 10, newest * 192 + 40);
  fs.writeFileSync(stateFile, bytes);
  assert.equal(readStateFile(stateFile)?.size, 5);
  const restarted = headSigner(log);
  restarted.verifyNotForked();
  assert.equal(fileRecord(stateFile).size, 6, "brought up to the database's record at start-up");
  restarted.publishCurrent();
  const head7 = await commit(log, restarted, fixtureLeaves.slice(6, 7));
  assert.deepEqual(fileRecord(stateFile), { size: 7, root: head7.root });
});

test("checkpoint() is the signed C2SP note of the published head", (t) => {
  const log = openLog(t, path.join(tempDir(t, "head-signer-"), "a.sqlite"));
  append(log, fixtureLeaves);
  const { signer, count } = countingSigner();
  const hs = headSigner(log, undefined, signer);
  const vkey = hs.verifierKey();
  assert.equal(parseVerifierKey(vkey).name, ORIGIN);
  hs.publishCurrent();
  const note = hs.checkpoint();
  assert.ok(note.startsWith(`${ORIGIN}\n70\n${Buffer.from(vectors.signed_head.root, "hex").toString("base64")}\n\n\u2014 ${ORIGIN} `));
  const cp = verifyCheckpoint(note, vkey);
  assert.equal(cp.size, 70);
  assert.equal(Buffer.from(cp.root).toString("hex"), vectors.signed_head.root);
  assert.equal(hs.checkpoint(), note);
  assert.equal(count(), 2);
  assert.deepEqual(dbRecord(log), { size: 70, root: vectors.signed_head.root });
  assert.equal(hs.head().size, 70);
  assert.equal(count(), 2);
});

test("a restart on the same files, after growth, is not a fork", (t) => {
  const log = openLog(t, path.join(tempDir(t, "head-signer-"), "a.sqlite"));
  append(log, fixtureLeaves.slice(0, 30));
  published(headSigner(log));
  append(log, fixtureLeaves.slice(30));
  const restarted = headSigner(log);
  restarted.verifyNotForked();
  assert.equal(published(restarted).size, 70);
});

test("a database restored to below the signed size is refused (state file)", (t) => {
  const dir = tempDir(t, "head-signer-");
  const log = openLog(t, path.join(dir, "a.sqlite"));
  append(log, fixtureLeaves.slice(0, 5));
  const old = backup(log, path.join(dir, "backup.sqlite"));
  append(log, fixtureLeaves.slice(5, 10));
  const head10 = published(headSigner(log));

  const restored = openLog(t, old);
  const hs = headSigner(restored, stateFileFor(log.file));
  assertForkError(() => hs.verifyNotForked(), { source: "state file", signedSize: 10, treeSize: 5 }, ["5 leaves", "size 10", head10.root]);
  assertForkError(() => hs.publishCurrent(), { source: "state file", signedSize: 10, treeSize: 5 });
  assert.throws(() => hs.head(), /no tree head has been published/);
  assert.equal(dbRecord(restored), undefined, "nothing was signed or persisted for the fork");
});

test("a log with the same size but a different root is refused", (t) => {
  const dir = tempDir(t, "head-signer-");
  const a = openLog(t, path.join(dir, "a.sqlite"));
  append(a, fixtureLeaves.slice(0, 10));
  const headA = published(headSigner(a));

  const b = openLog(t, path.join(dir, "b.sqlite"));
  append(b, [...fixtureLeaves.slice(0, 9), Buffer.from('{"forked":true}')]);
  const hs = headSigner(b, stateFileFor(a.file));
  assertForkError(() => hs.verifyNotForked(), { source: "state file", signedSize: 10, treeSize: 10 }, [headA.root, b.store.root().toString("hex"), "fork"]);
  // Growing past the signed size does not hide the fork: the root at size 10 still differs.
  append(b, otherLeaves(5, "b"));
  assertForkError(() => hs.publishCurrent(), { source: "state file", signedSize: 10, treeSize: 15 }, [headA.root]);
});

test("a state file larger than the database record wins", (t) => {
  const dir = tempDir(t, "head-signer-");
  const log = openLog(t, path.join(dir, "a.sqlite"));
  append(log, fixtureLeaves.slice(0, 5));
  published(headSigner(log));
  append(log, fixtureLeaves.slice(5, 7));
  // The backup carries its own tlog_signed row (size 5), which the tree at 7 extends.
  const old = backup(log, path.join(dir, "backup.sqlite"));
  append(log, fixtureLeaves.slice(7, 10));
  published(headSigner(log));

  const restored = openLog(t, old);
  assert.deepEqual(dbRecord(restored)?.size, 5);
  const hs = headSigner(restored, stateFileFor(log.file));
  assertForkError(() => hs.verifyNotForked(), { source: "state file", signedSize: 10, treeSize: 7 });
  assert.equal(dbRecord(restored)?.size, 5);
});

test("a lagging record is brought up to the larger one when the tree extends both", (t) => {
  const log = openLog(t, path.join(tempDir(t, "head-signer-"), "a.sqlite"));
  const stateFile = stateFileFor(log.file);
  append(log, fixtureLeaves.slice(0, 10));
  published(headSigner(log));
  const root5 = log.store.root(5).toString("hex");
  log.db.prepare("UPDATE tlog_signed SET size = 5, root = ? WHERE id = 1").run(Buffer.from(root5, "hex"));
  const hs = headSigner(log);
  hs.verifyNotForked();
  assert.deepEqual(dbRecord(log), fileRecord(stateFile));
  assert.equal(dbRecord(log)?.size, 10);

  fs.rmSync(stateFile);
  headSigner(log).verifyNotForked();
  assert.deepEqual(fileRecord(stateFile), dbRecord(log));
});

test("without a state file the database record is still enforced", (t) => {
  const dir = tempDir(t, "head-signer-");
  const a = openLog(t, path.join(dir, "a.sqlite"));
  append(a, fixtureLeaves.slice(0, 10));
  const headA = published(headSigner(a));
  fs.rmSync(stateFileFor(a.file));

  // The same database with different leaves at the signed size.
  const b = openLog(t, path.join(dir, "b.sqlite"));
  append(b, otherLeaves(12, "b"));
  b.db.prepare("INSERT INTO tlog_signed (id, size, root, signed_at) VALUES (1, 10, ?, 0)").run(Buffer.from(headA.root, "hex"));
  const hsB = headSigner(b);
  assert.equal(fs.existsSync(stateFileFor(b.file)), false);
  assertForkError(() => hsB.verifyNotForked(), { source: "database", signedSize: 10, treeSize: 12 }, [headA.root, "tlog_signed"]);
  assertForkError(() => hsB.publishCurrent(), { source: "database", signedSize: 10, treeSize: 12 });
  assert.equal(fs.existsSync(stateFileFor(b.file)), false, "a fork never writes the state file");

  // Leaves lost below the signed size.
  const c = openLog(t, path.join(dir, "c.sqlite"));
  append(c, fixtureLeaves.slice(0, 4));
  c.db.prepare("INSERT INTO tlog_signed (id, size, root, signed_at) VALUES (1, 10, ?, 0)").run(Buffer.from(headA.root, "hex"));
  assertForkError(() => headSigner(c).verifyNotForked(), { source: "database", signedSize: 10, treeSize: 4 }, ["4 leaves", "size 10"]);
});

test("a record at a smaller size that the tree does not extend is refused too", (t) => {
  const dir = tempDir(t, "head-signer-");
  const log = openLog(t, path.join(dir, "a.sqlite"));
  append(log, fixtureLeaves.slice(0, 10));
  published(headSigner(log));
  log.db.prepare("UPDATE tlog_signed SET size = 5, root = ? WHERE id = 1").run(Buffer.alloc(32, 0xaa));
  assertForkError(() => headSigner(log).verifyNotForked(), { source: "database", signedSize: 5, treeSize: 10 }, ["aa".repeat(32)]);
});

test("a malformed state file is refused, not ignored", (t) => {
  const log = openLog(t, path.join(tempDir(t, "head-signer-"), "a.sqlite"));
  const stateFile = stateFileFor(log.file);
  append(log, fixtureLeaves.slice(0, 3));
  for (const contents of ["", "{", "[]", '{"size":-1,"root":"00","signed_at":0}', '{"size":3}']) {
    fs.writeFileSync(stateFile, contents);
    assertForkError(() => headSigner(log).verifyNotForked(), { source: "state file", signedSize: null, treeSize: 3 }, [stateFile, "malformed"]);
  }
});

test("the registry publishes a head behind each commit, signed_at from the registry's injected clock", async (t) => {
  const dataDir = tempDir(t, "head-signer-");
  const db = openDatabase(path.join(dataDir, "registry.sqlite"));
  let now = 1_234_567_890;
  const registry = new Registry({
    db,
    identity: loadOrCreateIdentity(dataDir).identity,
    origin: ORIGIN,
    signedHeadFile: signedHeadFile(dataDir),
    clock: () => now,
  });
  t.after(() => registry.close());
  assert.equal(registry.heads.head().size, 0);
  assert.equal(registry.secondsSinceSignedHead(), null);
  const hit = () => registry.write({ kind: "beacon", at: now, beacon: "ocsp", tokenId: "tok", sourceIp: "192.0.2.1", userAgent: "" });
  await hit();
  assert.equal(new SignedHeadRow(db).read()?.size, 1, "the row is committed with the leaves");
  await registry.drain();
  assert.equal(registry.heads.head().size, 1);
  assert.equal(new SignedHeadRow(db).read()?.signedAt, 1_234_567_890);
  assert.equal(readStateFile(signedHeadFile(dataDir))?.signedAt, 1_234_567_890);
  now += 42;
  assert.equal(registry.secondsSinceSignedHead(), 42);
  await hit();
  await registry.drain();
  assert.equal(registry.heads.checkpoint().split("\n")[1], "2");
  assert.equal(new SignedHeadRow(db).read()?.signedAt, 1_234_567_932);
  assert.equal(registry.secondsSinceSignedHead(), 0);
});

test("no signature over leaves inside an open transaction", async (t) => {
  const log = openLog(t, path.join(tempDir(t, "head-signer-"), "a.sqlite"));
  append(log, fixtureLeaves.slice(0, 3));
  const hs = headSigner(log);
  const head3 = published(hs);
  let inside: Promise<void> | undefined;
  log.db.transaction(() => {
    log.store.append(fixtureLeaves[3]!);
    assert.throws(() => hs.publishCurrent(), /transaction/);
    inside = hs.publish();
  })();
  await assert.rejects(inside!, /transaction/);
  assert.deepEqual(dbRecord(log), { size: 3, root: head3.root });
  assert.equal(hs.head().size, 3);
  await hs.publish();
  assert.equal(hs.head().size, 4);
});

function assertForkError(fn: () => unknown, expected: { source: string; signedSize: number | null; treeSize: number }, mentions: string[] = []): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof ForkError, String(error));
    assert.equal(error.source, expected.source);
    assert.equal(error.signedSize, expected.signedSize);
    assert.equal(error.treeSize, expected.treeSize);
    for (const m of mentions) assert.ok(error.message.includes(m), `message should mention ${m}: ${error.message}`);
    return true;
  });
}
