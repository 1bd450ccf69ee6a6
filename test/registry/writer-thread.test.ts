import assert from "node:assert/strict";
import path from "node:path";
import { test, type TestContext } from "node:test";
import Database from "better-sqlite3";
import { loadOrCreateIdentity } from "../../src/core/identity.js";
import { openDatabase } from "../../src/registry/database.js";
import { Registry } from "../../src/registry/registry.js";
import type { WriteFact } from "../../src/registry/write-facts.js";
import { ThreadWriter } from "../../src/registry/writer-thread.js";
import { signedHeadFile } from "../../src/tlog/signed-head-record.js";
import { TlogStore } from "../../src/tlog/store.js";
import { envelope, startTestRegistry } from "../http/registry-server.js";
import { tempDir } from "../temp.js";

function openRegistry(t: TestContext, dataDir = tempDir(t), dbPath = path.join(dataDir, "registry.sqlite")) {
  const registry = new Registry({
    db: openDatabase(dbPath),
    identity: loadOrCreateIdentity(dataDir).identity,
    origin: "test.example/log",
    signedHeadFile: signedHeadFile(dataDir),
  });
  return { registry, dbPath, dataDir };
}

const hit = (tokenId: string): WriteFact => ({ kind: "beacon", at: 1_700_000_000, beacon: "ocsp", tokenId, sourceIp: "192.0.2.1", userAgent: "test" });

const statusOf = (result: PromiseSettledResult<number>) =>
  result.status === "fulfilled" ? result.value : `${(result.reason as { status?: number }).status} ${(result.reason as { code?: string }).code}`;

/** What a fresh connection finds committed in the file: leaves and event rows. */
function committed(dbPath: string): { leaves: number; events: number } {
  const db = new Database(dbPath, { readonly: true });
  try {
    return {
      leaves: new TlogStore(db).size(),
      events: db.prepare("SELECT count(*) FROM events").pluck().get() as number,
    };
  } finally {
    db.close();
  }
}

test("a refused fact gets its own v1 error from the writer thread; the facts handed over with it commit", async (t) => {
  const { registry, dbPath } = openRegistry(t);
  t.after(() => registry.close());
  const registration = (issuerPub: string): WriteFact => ({
    kind: "register",
    at: 1_700_000_000,
    fileId: "file-1",
    recipientId: "r",
    issuerId: "issuer-test",
    issuerPub,
    manifestJson: "{}",
    digest: issuerPub,
    operator: null,
    beacons: [],
    watermarks: [],
    corpus: [],
  });
  assert.equal(await registry.write(registration("aa".repeat(32))), 0);
  const settled = await Promise.allSettled([hit("a"), registration("bb".repeat(32)), hit("c")].map((fact) => registry.write(fact)));
  assert.deepEqual(settled.map(statusOf), [1, "409 issuer_mismatch", 2]);
  assert.match(((settled[1] as PromiseRejectedResult).reason as Error).message, /another issuer key/);
  assert.equal(registry.store.size(), 3, "the reading store follows the writer's commits");
  assert.deepEqual(committed(dbPath), { leaves: 3, events: 2 });
});

test("facts recorded while the writer thread commits wait for its answer and go over together: one answer per commit", async (t) => {
  const dbPath = path.join(tempDir(t), "registry.sqlite");
  const lock = openDatabase(dbPath);
  t.after(() => lock.close());
  const answers: number[] = [];
  const commits: number[] = [];
  const writer = new ThreadWriter(
    { file: dbPath, synchronous: "FULL" },
    { committed: ({ size }) => answers.push(size), observeCommit: (jobs) => commits.push(jobs), failed: () => {} },
  );
  t.after(() => writer.close());
  await writer.started;

  // The thread's first commit waits for this connection's write lock, so the later facts are recorded while it holds the first.
  lock.exec("BEGIN IMMEDIATE");
  const turn = () => new Promise((resolve) => setImmediate(resolve));
  const first = writer.record(hit("first"));
  await turn();
  const later = [writer.record(hit("second"))];
  await turn();
  later.push(writer.record(hit("third")));
  await turn();
  lock.exec("COMMIT");

  assert.deepEqual(await Promise.all([first, ...later]), [0, 1, 2]);
  assert.deepEqual(commits, [1, 2]);
  assert.deepEqual(answers, [1, 3], "the two facts recorded in two turns came back in one answer");
});

test("a batch whose transaction SQLite rolls back whole (as on a full disk) answers every fact in it 503 and leaves nothing; the log goes on", async (t) => {
  const { registry, dbPath } = openRegistry(t);
  t.after(() => registry.close());
  assert.equal(await registry.write(hit("before")), 0);
  registry.db.exec("CREATE TRIGGER disk_full BEFORE INSERT ON events WHEN NEW.token_id = 'doom' BEGIN SELECT RAISE(ROLLBACK, 'database or disk is full'); END");
  const settled = await Promise.allSettled([hit("a"), hit("doom"), hit("c")].map((fact) => registry.write(fact)));
  assert.deepEqual(settled.map(statusOf), ["503 server_error", "503 server_error", "503 server_error"]);
  assert.deepEqual(committed(dbPath), { leaves: 1, events: 1 }, "nothing of the failed batch is written");
  assert.equal(registry.store.size(), 1);
  assert.equal(await registry.write(hit("after")), 1, "the next fact takes the next index");
});

test("when the writer thread dies, every pending write and every later one gets a 503, /health says degraded, and what was acknowledged is kept", async (t) => {
  const reg = await startTestRegistry(t);
  const registry = reg.service.registry;
  const acknowledged = [];
  for (let i = 0; i < 3; i++) acknowledged.push(await registry.write(hit(`kept-${i}`)));
  assert.deepEqual(acknowledged, [0, 1, 2]);

  const pending = Promise.allSettled(Array.from({ length: 5 }, (_, i) => registry.write(hit(`pending-${i}`))));
  await registry.writer!.terminate();
  for (const result of await pending) {
    // A fact the thread committed before it died may have been answered first: never a hang, never a lost answer.
    if (result.status === "rejected") assert.equal(statusOf(result), "503 server_error");
  }
  assert.equal(reg.logLines.filter((line) => line.includes("the writer thread stopped")).length, 1, "logged once");

  const refused = await reg.call("/dns_event", { json: { token_id: "later" }, auth: false });
  assert.equal(refused.status, 503);
  assert.equal((await envelope(refused)).code, "server_error");
  const health = await (await reg.call("/health")).json();
  assert.equal(health.status, "degraded");
  assert.equal((await reg.call("/tlog/head")).status, 200, "reads go on");

  await reg.close();
  assert.ok(committed(reg.dbPath).leaves >= 3, "every acknowledged leaf is in the file");
  const reopened = openRegistry(t, reg.dataDir, reg.dbPath);
  t.after(() => reopened.registry.close());
  assert.equal(reopened.registry.fork, null, "the fork guards accept what the dead writer left");
  assert.equal(await reopened.registry.write(hit("after-restart")), reopened.registry.store.size() - 1);
});

test("close drains every write recorded before it: each is answered and in the file", async (t) => {
  const { registry, dbPath } = openRegistry(t);
  const writes = Array.from({ length: 200 }, (_, i) => registry.write(hit(`drained-${i}`)));
  await registry.close();
  const indexes = await Promise.all(writes);
  assert.deepEqual(
    indexes.toSorted((a, b) => a - b),
    Array.from({ length: 200 }, (_, i) => i),
  );
  assert.deepEqual(committed(dbPath), { leaves: 200, events: 200 });
  await assert.rejects(registry.write(hit("late")), (error: { status?: number }) => error.status === 503);
});
