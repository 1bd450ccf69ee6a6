import assert from "node:assert/strict";
import { statSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { LOCK_FILE } from "../../src/data-dir-lock.js";
import { openDatabase, PAGE_SIZE, WAL_SIZE_LIMIT } from "../../src/registry/database.js";
import { startTestRegistry } from "../http/registry-server.js";
import { tempDir } from "../temp.js";

const mode = (file: string) => statSync(file).mode & 0o777;

test("the registry's database, its -wal and -shm files and the data directory's lock are created 0600", async (t) => {
  const reg = await startTestRegistry(t);
  assert.equal((await reg.call("/v/token")).status, 200, "a write, so the WAL holds readers' addresses");
  for (const file of [reg.dbPath, `${reg.dbPath}-wal`, `${reg.dbPath}-shm`, path.join(reg.dataDir, LOCK_FILE)]) {
    assert.equal(mode(file).toString(8), "600", file);
  }
});

test("a database opened by openDatabase (migration targets too) is created 0600 with its -wal and -shm", (t) => {
  const dir = tempDir(t);
  const target = path.join(dir, "nested", "target.sqlite");
  const db = openDatabase(target);
  db.exec("CREATE TABLE probe (x); INSERT INTO probe VALUES (1)");
  for (const file of [target, `${target}-wal`, `${target}-shm`]) assert.equal(mode(file).toString(8), "600", file);
  assert.equal(mode(path.dirname(target)).toString(8), "700");
  db.close();
});

test("a connection's SQLite page cache is capped at 8 MiB, so reads all over a large log do not grow the process by 32 MiB", (t) => {
  const db = openDatabase(path.join(tempDir(t), "cache.sqlite"));
  t.after(() => db.close());
  assert.equal(db.pragma("cache_size", { simple: true }), -8000);
});

test("a new database has 4 KiB pages, and a database made with other pages keeps them", (t) => {
  const dir = tempDir(t);
  const fresh = openDatabase(path.join(dir, "new.sqlite"));
  assert.equal(fresh.pragma("page_size", { simple: true }), PAGE_SIZE);
  assert.equal(PAGE_SIZE, 4096);
  fresh.close();

  const olderFile = path.join(dir, "older.sqlite");
  const older = openDatabase(olderFile);
  older.pragma("journal_mode = DELETE");
  older.pragma("page_size = 16384");
  older.exec("VACUUM");
  older.close();
  const reopened = openDatabase(olderFile);
  t.after(() => reopened.close());
  assert.equal(reopened.pragma("page_size", { simple: true }), 16384);
});

test("a WAL grown past the limit by a burst is cut back to it once a checkpoint lets SQLite start it over", (t) => {
  const file = path.join(tempDir(t), "burst.sqlite");
  const db = openDatabase(file);
  t.after(() => db.close());
  db.pragma("wal_autocheckpoint = 0");
  db.exec("CREATE TABLE burst (x)");
  const insert = db.prepare("INSERT INTO burst VALUES (?)");
  const row = Buffer.alloc(4000, 1);
  db.transaction(() => {
    for (let i = 0; i < 3000; i++) insert.run(row);
  })();
  assert.ok(statSync(`${file}-wal`).size > WAL_SIZE_LIMIT, "the burst grew the WAL past the limit");
  db.pragma("wal_checkpoint(PASSIVE)");
  insert.run(row);
  assert.equal(statSync(`${file}-wal`).size, WAL_SIZE_LIMIT);
});
