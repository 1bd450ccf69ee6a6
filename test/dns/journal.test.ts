// The bridge's journal on a real SQLite file: appends survive a reopen,
// settling removes delivered events and keeps refused ones as dead letters,
// the file is private, and the WAL's directory entry is made durable when it is opened.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { fdatasyncSync, statSync } from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { openDatabase } from "../../src/registry/database.js";
import { JOURNAL_FILE, JOURNAL_MIGRATIONS, Journal, openJournalReadOnly, readBacklog, type JournalEntry } from "../../src/dns/journal.js";
import { WalSync } from "../../src/dns/wal-sync.js";
import { tempDir } from "../temp.js";

const event = (i: number) => ({ token_id: i.toString(16).padStart(32, "0"), client_ip: "192.0.2.7", qtype: "A", qname: `q${i}` });

test("appends are kept in order across a reopen; settle delivers and dead-letters in one step", async (t) => {
  const dir = tempDir(t);
  let ms = 1_000;
  const journal = new Journal(dir, { synchronous: "NORMAL", now: () => ms++ });
  const appended = await Promise.all([1, 2, 3, 4].map((i) => journal.append(event(i))));
  assert.equal(new Set(appended.map((e) => e.event_id)).size, 4);
  assert.ok(appended.every((e) => /^[0-9a-f]{32}$/.test(e.event_id)));
  assert.equal(journal.pending, 4);
  await journal.close();
  assert.equal(statSync(path.join(dir, JOURNAL_FILE)).mode & 0o777, 0o600);

  const again = new Journal(dir, { synchronous: "NORMAL", now: () => 5_000 });
  t.after(() => again.close());
  assert.equal(again.pending, 4);
  const oldest = again.oldest(10);
  assert.deepEqual(
    oldest.map((e) => e.qname),
    ["q1", "q2", "q3", "q4"],
  );
  assert.deepEqual(oldest, appended);
  await again.settle([oldest[0]!, oldest[2]!], [{ entry: oldest[1]!, status: 401, answer: '{"error":{"code":"auth_required"}}' }]);
  assert.equal(again.pending, 1);
  assert.deepEqual(
    again.oldest(10).map((e) => e.qname),
    ["q4"],
  );
  assert.deepEqual(again.backlog(), { pending: 1, oldest_received_at: appended[3]!.received_at, dead_letters: 1, delivered: 2 });
  const [letter] = again.deadLetters(5);
  assert.deepEqual([letter?.event_id, letter?.status, letter?.failed_at], [appended[1]!.event_id, 401, 5_000]);

  const reader = openJournalReadOnly(dir);
  t.after(() => reader.close());
  assert.deepEqual(readBacklog(reader), again.backlog());
});

test("with FULL an append resolves only after an fsync of the WAL that began after its commit; a settlement has none of its own", async (t) => {
  const dir = tempDir(t);
  const steps: string[] = [];
  const journal = new Journal(dir, {
    synchronous: "FULL",
    observer: { observeCommit: (jobs) => steps.push(`commit ${jobs}`) },
    observeSync: () => steps.push("fsync"),
  });
  t.after(() => journal.close());
  // SQLite's own synchronous level on the journal's connection as each row is written or removed: NORMAL (1), the fsync is the journal's.
  journal.db.exec(`
    CREATE TABLE probe (step TEXT, level INTEGER);
    CREATE TRIGGER probe_append AFTER INSERT ON pending BEGIN INSERT INTO probe SELECT 'append', synchronous FROM pragma_synchronous; END;
    CREATE TRIGGER probe_settle AFTER DELETE ON pending BEGIN INSERT INTO probe SELECT 'settle', synchronous FROM pragma_synchronous; END;
  `);
  const acked = (entry: JournalEntry) => {
    steps.push(`acked ${entry.qname}`);
    return entry;
  };
  const [first, second] = await Promise.all([journal.append(event(1)).then(acked), journal.append(event(2)).then(acked)]);
  await journal.settle([first!], [{ entry: second!, status: 401, answer: "no" }]);
  steps.push("settled");
  await journal.append(event(3)).then(acked);
  assert.deepEqual(steps, ["commit 2", "fsync", "acked q1", "acked q2", "commit 2", "settled", "commit 1", "fsync", "acked q3"]);
  assert.deepEqual(
    journal.db
      .prepare("SELECT step, level FROM probe ORDER BY rowid")
      .all()
      .map((row) => Object.values(row as object).join(" ")),
    ["append 1", "append 1", "settle 1", "settle 1", "append 1"],
  );
  assert.equal(journal.pending, 1);
  assert.equal(journal.backlog().dead_letters, 1);
});

test("the journal does not wait for a lock another program holds: the append fails (its query is answered SERVFAIL) instead of stalling the thread that answers", async (t) => {
  const dir = tempDir(t);
  const journal = new Journal(dir, { synchronous: "NORMAL" });
  t.after(() => journal.close());
  // SQLite's busy timeout would block the whole thread in its retry loop, every answer with it.
  assert.equal(journal.db.pragma("busy_timeout", { simple: true }), 0);
  const other = new Database(path.join(dir, JOURNAL_FILE));
  t.after(() => other.close());
  other.exec("BEGIN IMMEDIATE");
  await assert.rejects(journal.append(event(1)), /could not be committed/);
  other.exec("ROLLBACK");
  await journal.append(event(2));
  assert.deepEqual(
    journal.oldest(5).map((e) => e.qname),
    ["q2"],
  );
});

test("an append's commit writes about one small page to the WAL: its row's, no index's or sequence's", async (t) => {
  const journal = new Journal(tempDir(t), { synchronous: "NORMAL" });
  t.after(() => journal.close());
  assert.equal(journal.db.pragma("page_size", { simple: true }), 1024);
  // Copied into the database, the WAL starts over at the next commit: what it holds after the appends is theirs.
  journal.db.pragma("wal_checkpoint(PASSIVE)");
  const commits = 30;
  for (let i = 0; i < commits; i++) await journal.append(event(i));
  const [{ log: frames }] = journal.db.pragma("wal_checkpoint(PASSIVE)") as [{ log: number }];
  assert.ok(frames / commits < 2, `${frames} pages written for ${commits} commits`);
});

test("a journal written by an earlier bridge keeps its events and their order; ids freed by deliveries are reused without losing a dead letter", async (t) => {
  const dir = tempDir(t);
  const earlier = openDatabase(path.join(dir, JOURNAL_FILE), { synchronous: "NORMAL", migrations: JOURNAL_MIGRATIONS.slice(0, 1) });
  const insert = earlier.prepare("INSERT INTO pending (id, event_id, token_id, client_ip, qtype, qname, received_at) VALUES (?, ?, ?, '192.0.2.7', 'A', ?, 1)");
  insert.run(5, "e5".padEnd(32, "0"), event(5).token_id, "q5");
  insert.run(6, "e6".padEnd(32, "0"), event(6).token_id, "q6");
  earlier.exec(`INSERT INTO dead_letters SELECT 1, '${"e1".padEnd(32, "0")}', '${event(1).token_id}', '192.0.2.7', 'A', 'q1', 1, 401, 'no', 2`);
  earlier.close();

  const journal = new Journal(dir, { synchronous: "NORMAL" });
  t.after(() => journal.close());
  const kept = journal.oldest(10);
  assert.deepEqual(
    kept.map((e) => [e.id, e.qname]),
    [
      [5, "q5"],
      [6, "q6"],
    ],
  );
  const added = await journal.append(event(7));
  assert.equal(added.id, 7, "a new row comes after every row present");
  await journal.settle([...kept, added], []);
  const reused = await journal.append(event(8));
  assert.equal(reused.id, 1, "the table is empty: the id a dead letter once had is given again");
  await journal.settle([], [{ entry: reused, status: 401, answer: "no" }]);
  assert.deepEqual(
    journal.deadLetters(10).map((letter) => letter.qname),
    ["q8", "q1"],
  );
});

test("with NORMAL no fsync is made", async (t) => {
  let fsyncs = 0;
  const journal = new Journal(tempDir(t), { synchronous: "NORMAL", observeSync: () => fsyncs++ });
  t.after(() => journal.close());
  await Promise.all([journal.append(event(1)), journal.append(event(2))]);
  assert.equal(fsyncs, 0);
});

test("the WAL's fsync: one per commit, shared by every caller until the next commit; once one fails, every later sync fails without another fdatasync", (t) => {
  const dir = tempDir(t);
  const journal = new Journal(dir, { synchronous: "NORMAL" });
  t.after(() => journal.close());
  let calls = 0;
  let failing = false;
  const wal = WalSync.open(path.join(dir, JOURNAL_FILE), {
    fdatasync: (fd) => {
      calls++;
      if (failing) throw new Error("EIO: the disk says no");
      fdatasyncSync(fd);
    },
  });
  t.after(() => wal.close());

  wal.sync();
  assert.equal(calls, 0, "nothing committed, nothing to sync");
  wal.committed();
  wal.sync();
  wal.sync();
  assert.equal(calls, 1);
  assert.equal(wal.failure, null);
  wal.committed();
  failing = true;
  assert.throws(() => wal.sync(), /EIO/);
  failing = false;
  assert.throws(() => wal.sync(), /EIO/, "the commit it was to cover is still not known durable");
  wal.committed();
  assert.throws(() => wal.sync(), /until the bridge is restarted/, "a later fdatasync's success would not prove the dropped pages reached the disk");
  assert.equal(calls, 2);
  assert.match(String(wal.failure), /EIO/);
});

test("after a failed fsync an append is refused at once and nothing more is committed", async (t) => {
  const dir = tempDir(t);
  let failing = false;
  const journal = new Journal(dir, {
    synchronous: "FULL",
    fdatasync: (fd) => {
      if (failing) throw new Error("EIO: the disk says no");
      fdatasyncSync(fd);
    },
  });
  t.after(() => journal.close());
  await journal.append(event(1));
  failing = true;
  await assert.rejects(journal.append(event(2)), /EIO/);
  failing = false;
  await assert.rejects(journal.append(event(3)), /until the bridge is restarted/);
  assert.deepEqual(
    journal.oldest(10).map((entry) => entry.qname),
    [event(1).qname, event(2).qname],
    "the failed commit's row stays, the refused append wrote none",
  );
});

test("with FULL the fsync is made in the commit's own turn of the event loop, before the thread does anything else", async (t) => {
  const steps: string[] = [];
  const journal = new Journal(tempDir(t), {
    synchronous: "FULL",
    observer: {
      observeCommit: () => {
        steps.push("commit");
        setImmediate(() => steps.push("next turn"));
      },
    },
    observeSync: () => steps.push("fsync"),
  });
  t.after(() => journal.close());
  await journal.append(event(1)).then(() => steps.push("acked"));
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(steps, ["commit", "fsync", "acked", "next turn"]);
});

test("the journal's directory is fsynced when the WAL is opened, before the first answer could depend on the WAL's directory entry", {
  skip: !canTrace() && "needs strace, allowed to trace",
}, (t) => {
  const dir = tempDir(t);
  const walSync = new URL("../../src/dns/wal-sync.js", import.meta.url).href;
  // A journal whose WAL exists, as the bridge has it when it opens its fsync.
  const journal = new Journal(dir, { synchronous: "NORMAL" });
  t.after(() => journal.close());
  const script = `const { WalSync } = await import(${JSON.stringify(walSync)}); process.stderr.write("opening\\n"); WalSync.open(${JSON.stringify(path.join(dir, JOURNAL_FILE))}).close();`;
  const trace = spawnSync("strace", ["-f", "-e", "trace=openat,fsync,write", "node", "--input-type=module", "-e", script], { encoding: "utf8" });
  assert.equal(trace.status, 0, trace.stderr);
  const lines = trace.stderr.split("\n");
  const opened = lines.findIndex((line) => line.includes('"opening\\n"'));
  const directoryFd = lines
    .slice(opened)
    .map((line) => new RegExp(`openat\\(AT_FDCWD, "${dir}", O_RDONLY[^)]*\\) = (\\d+)`).exec(line)?.[1])
    .find((fd) => fd !== undefined);
  assert.ok(directoryFd !== undefined, "the directory is opened");
  assert.ok(
    lines.slice(opened).some((line) => line.includes(`fsync(${directoryFd})`)),
    "and fsynced",
  );
});

/** strace is installed and may trace here (a container can forbid ptrace). */
function canTrace(): boolean {
  return spawnSync("strace", ["-e", "trace=none", "true"], { stdio: "ignore" }).status === 0;
}
