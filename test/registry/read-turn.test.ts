import assert from "node:assert/strict";
import path from "node:path";
import { test, type TestContext } from "node:test";
import { openDatabase } from "../../src/registry/database.js";
import { ReadTurn } from "../../src/registry/read-turn.js";
import { startTestRegistry } from "../http/registry-server.js";
import { tempDir } from "../temp.js";

const turnEnds = () => new Promise((resolve) => setImmediate(resolve));

/** A reading and a writing connection on one WAL file with a table of rows, and a read turn on the reader counting `size` rows. */
function twoConnections(t: TestContext) {
  const file = path.join(tempDir(t), "turn.sqlite");
  const writer = openDatabase(file);
  writer.exec("CREATE TABLE leaves (idx INTEGER PRIMARY KEY)");
  const reader = openDatabase(file);
  t.after(() => {
    reader.close();
    writer.close();
  });
  let size = 0;
  const append = () => writer.prepare("INSERT INTO leaves (idx) VALUES (?)").run(size++);
  const count = () => reader.prepare("SELECT count(*) FROM leaves").pluck().get() as number;
  return { reader, writer, append, count, turn: new ReadTurn(reader, () => size) };
}

test("reads in one turn share one transaction, which ends with the turn and then lets a checkpoint reset the WAL", async (t) => {
  const { reader, writer, append, count, turn } = twoConnections(t);
  append();
  turn.enter();
  assert.equal(count(), 1);
  turn.enter();
  assert.ok(reader.inTransaction, "one transaction for the turn's reads");
  writer.exec("INSERT INTO leaves (idx) VALUES (100)");
  assert.equal(count(), 1, "the turn reads one snapshot");
  const [held] = writer.pragma("wal_checkpoint(TRUNCATE)") as { busy: number }[];
  assert.equal(held!.busy, 1, "a snapshot held back the checkpoint");
  await turnEnds();
  assert.equal(reader.inTransaction, false, "ended with the turn");
  const [after] = writer.pragma("wal_checkpoint(TRUNCATE)") as { busy: number }[];
  assert.equal(after!.busy, 0);
  assert.equal(count(), 2);
});

test("a read after leaves were committed, in the same turn, gets a snapshot that has them", (t) => {
  const { append, count, turn } = twoConnections(t);
  append();
  turn.enter();
  assert.equal(count(), 1);
  append();
  turn.enter();
  assert.equal(count(), 2);
});

test("a statement that fails leaves no transaction open past the turn, and another's transaction is left alone", async (t) => {
  const { reader, turn } = twoConnections(t);
  turn.enter();
  assert.throws(() => reader.prepare("SELECT * FROM missing").get());
  await turnEnds();
  assert.equal(reader.inTransaction, false);

  reader.exec("BEGIN");
  turn.enter();
  turn.end();
  await turnEnds();
  assert.ok(reader.inTransaction, "the caller's own transaction is still open");
  reader.exec("COMMIT");
});

test("a head publication that starts in the turn of a proof read publishes", async (t) => {
  // No publication starts on its own after the first: the test starts the queued one itself.
  const reg = await startTestRegistry(t, { headPublicationGapMs: 3_600_000 });
  assert.equal((await reg.call("/v/tok-1", { auth: false })).status, 200);
  assert.equal((await (await reg.call("/tlog/head", { auth: false })).json()).size, 1);
  assert.equal((await reg.call("/v/tok-2", { auth: false })).status, 200);
  const registry = reg.service.registry;
  assert.equal(registry.publishedSize(), 1, "the publication covering the second leaf is queued");
  assert.equal(typeof reg.service.log.inclusionJson(0), "string");
  assert.ok(registry.db.inTransaction, "the proof opened the turn's transaction");
  await registry.publishing(2);
  assert.equal(registry.publishedSize(), 2);
});
