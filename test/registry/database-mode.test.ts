import assert from "node:assert/strict";
import { statSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { LOCK_FILE } from "../../src/data-dir-lock.js";
import { openDatabase } from "../../src/registry/database.js";
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
