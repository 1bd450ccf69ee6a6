import assert from "node:assert/strict";
import path from "node:path";
import { test } from "node:test";
import { openDatabase } from "../../src/registry/database.js";
import { WriteSequencer } from "../../src/registry/sequencer.js";
import { TlogStore } from "../../src/tlog/store.js";
import { tempDir } from "../temp.js";

function setup(t: import("node:test").TestContext) {
  const db = openDatabase(path.join(tempDir(t), "r.sqlite"));
  t.after(() => db.close());
  const store = new TlogStore(db);
  const batches: number[] = [];
  const commits: { jobs: number; seconds: number; ok: boolean }[] = [];
  const observer = {
    observeCommit: (jobs: number, seconds: number, ok: boolean) => {
      commits.push({ jobs, seconds, ok });
      if (ok) batches.push(jobs);
    },
  };
  const sequencer = new WriteSequencer(db, { resync: () => store.reload(), observer });
  const insert = db.prepare("INSERT INTO events (token_id, kind, timestamp, tlog_index) VALUES (?, 'ocsp', 0, ?)");
  const job =
    (token: string, fail = false) =>
    () => {
      const index = store.append(Buffer.from(token));
      insert.run(token, index);
      if (fail) throw new Error(`job ${token} fails after writing`);
      return index;
    };
  return { db, store, batches, commits, sequencer, job };
}

test("jobs submitted together share one commit, in submission order", async (t) => {
  const { store, batches, sequencer, job } = setup(t);
  const indexes = await Promise.all(["a", "b", "c", "d"].map((token) => sequencer.submit(job(token))));
  assert.deepEqual(indexes, [0, 1, 2, 3]);
  assert.deepEqual(batches, [4]);
  assert.equal(store.size(), 4);
});

test("a job that fails mid-batch leaves no row and no leaf; the others commit", async (t) => {
  const { db, store, commits, sequencer, job } = setup(t);
  const results = await Promise.allSettled([sequencer.submit(job("a")), sequencer.submit(job("bad", true)), sequencer.submit(job("c"))]);
  assert.equal(results[0].status, "fulfilled");
  assert.equal(results[1].status, "rejected");
  assert.match(String((results[1] as PromiseRejectedResult).reason), /job bad fails/);
  assert.deepEqual(results[2], { status: "fulfilled", value: 1 });
  assert.equal(store.size(), 2);
  const rows = db.prepare("SELECT token_id, tlog_index FROM events ORDER BY id").all();
  assert.deepEqual(rows, [
    { token_id: "a", tlog_index: 0 },
    { token_id: "c", tlog_index: 1 },
  ]);
  const leaves = store.leaves(0, 10).map((leaf) => leaf.leafData.toString());
  assert.deepEqual(leaves, ["a", "c"]);
  assert.deepEqual(
    commits.map(({ jobs, ok }) => ({ jobs, ok })),
    [{ jobs: 3, ok: true }],
    "one job failing is not a failed commit",
  );
});

test("committed batches survive a reopen; the store agrees with a fresh one", async (t) => {
  const { db, store, sequencer, job } = setup(t);
  await Promise.allSettled([sequencer.submit(job("x")), sequencer.submit(job("y", true))]);
  await sequencer.submit(job("z"));
  assert.deepEqual(new TlogStore(db).root(), store.root());
  assert.equal(new TlogStore(db).size(), 2);
});

test("drain waits for every queued job", async (t) => {
  const { store, sequencer, job } = setup(t);
  void sequencer.submit(job("p"));
  void sequencer.submit(job("q"));
  await sequencer.drain();
  assert.equal(store.size(), 2);
});

test("a lone failing job gets its own error; nothing it wrote remains", async (t) => {
  const { db, store, sequencer, job } = setup(t);
  await assert.rejects(sequencer.submit(job("solo", true)), /job solo fails/);
  assert.equal(store.size(), 0);
  assert.equal(db.prepare("SELECT count(*) FROM events").pluck().get(), 0);
  assert.equal(await sequencer.submit(job("next")), 0, "the log continues at the same index");
});

test("a commit that fails rejects the whole batch with a 503 server_error and leaves no trace", async (t) => {
  const { db, store, commits, sequencer, job } = setup(t);
  db.exec(`CREATE TABLE parent (id INTEGER PRIMARY KEY);
           CREATE TABLE child (parent_id INTEGER REFERENCES parent(id) DEFERRABLE INITIALLY DEFERRED)`);
  db.pragma("foreign_keys = ON");
  const orphan = () => db.prepare("INSERT INTO child (parent_id) VALUES (42)").run();
  const results = await Promise.allSettled([sequencer.submit(job("a")), sequencer.submit(orphan)]);
  for (const result of results) {
    assert.equal(result.status, "rejected");
    const reason = (result as PromiseRejectedResult).reason as { code?: string; status?: number };
    assert.equal(reason.code, "server_error");
    assert.equal(reason.status, 503);
  }
  assert.equal(store.size(), 0);
  assert.equal(db.prepare("SELECT count(*) FROM child").pluck().get(), 0);
  assert.equal(await sequencer.submit(job("b")), 0);
  assert.deepEqual(
    commits.map(({ jobs, ok }) => ({ jobs, ok })),
    [
      { jobs: 2, ok: false },
      { jobs: 1, ok: true },
    ],
    "the failed commit is reported as failed, the next one as committed",
  );
  assert.ok(commits.every(({ seconds }) => seconds >= 0));
});

test("a job whose error rolled back the whole transaction (as SQLITE_FULL may) fails the batch: nothing commits outside it", async (t) => {
  const { db, store, commits, sequencer, job } = setup(t);
  const diskFull = () => {
    // What SQLite may do on SQLITE_FULL or SQLITE_IOERR: end the transaction, not only the statement.
    db.exec("ROLLBACK");
    throw new Error("database or disk is full");
  };
  const results = await Promise.allSettled([sequencer.submit(job("a")), sequencer.submit(diskFull), sequencer.submit(job("c"))]);
  for (const result of results) {
    assert.equal(result.status, "rejected");
    assert.equal(((result as PromiseRejectedResult).reason as { status?: number }).status, 503);
  }
  assert.equal(new TlogStore(db).size(), 0, "no leaf committed on its own after the batch was rolled back");
  assert.equal(db.prepare("SELECT count(*) FROM events").pluck().get(), 0);
  assert.equal(store.size(), 0);
  assert.equal(await sequencer.submit(job("next")), 0, "the log continues at the same index");
  assert.deepEqual(
    commits.map(({ jobs, ok }) => ({ jobs, ok })),
    [
      { jobs: 3, ok: false },
      { jobs: 1, ok: true },
    ],
  );
});

test("a lone job whose error rolled back the whole transaction gets the 503 of a failed batch, not its own error", async (t) => {
  const { db, store, commits, sequencer, job } = setup(t);
  const diskFull = () => {
    store.append(Buffer.from("lost"));
    db.exec("ROLLBACK");
    throw new Error("database or disk is full");
  };
  await assert.rejects(sequencer.submit(diskFull), (error: { code?: string; status?: number }) => error.code === "server_error" && error.status === 503);
  assert.equal(store.size(), 0, "the store forgot the rolled-back leaf");
  assert.equal(await sequencer.submit(job("next")), 0);
  assert.deepEqual(
    commits.map(({ jobs, ok }) => ({ jobs, ok })),
    [
      { jobs: 1, ok: false },
      { jobs: 1, ok: true },
    ],
  );
});

test("a batch's row hook runs inside its transaction, and its jobs settle right after the commit, once its head's publication is started", async (t) => {
  const db = openDatabase(path.join(tempDir(t), "r.sqlite"));
  t.after(() => db.close());
  const store = new TlogStore(db);
  const sizesInTransaction: number[] = [];
  const committedSizes: number[] = [];
  const sequencer = new WriteSequencer(db, {
    resync: () => store.reload(),
    beforeCommit: () => sizesInTransaction.push(store.size()),
    committed: () => committedSizes.push(new TlogStore(db).size()),
  });
  const append = (token: string) => () => store.append(Buffer.from(token));
  const failing = () => {
    store.append(Buffer.from("bad"));
    throw new Error("job bad fails");
  };
  const results = await Promise.allSettled([sequencer.submit(append("a")), sequencer.submit(failing), sequencer.submit(append("c"))]);
  assert.deepEqual(
    results.map((result) => result.status),
    ["fulfilled", "rejected", "fulfilled"],
  );
  assert.equal(sizesInTransaction.at(-1), 2, "the hook runs inside the transaction that commits, after the jobs");
  assert.deepEqual(committedSizes, [2], "told once, after the commit: a fresh connection sees it");
  assert.equal(await sequencer.submit(append("d")), 2);
  assert.deepEqual(committedSizes, [2, 3]);
});
