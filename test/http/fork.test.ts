import assert from "node:assert/strict";
import { test } from "node:test";
import Database from "better-sqlite3";
import { TlogStore } from "../../src/tlog/store.js";
import { envelope, startTestRegistry } from "./registry-server.js";
import { tempDir } from "../temp.js";

test("a log rolled back below its largest signed head serves reads but refuses to sign or write", async (t) => {
  const dataDir = tempDir(t);
  const first = await startTestRegistry(t, { dataDir });
  for (let i = 0; i < 5; i++) await first.call(`/v/tok-${i}`);
  const signed = await (await first.call("/tlog/head")).json();
  assert.equal(signed.size, 5);
  await first.close();

  // An operator restores an older copy: the last two leaves are gone.
  const db = new Database(first.dbPath);
  db.exec("DELETE FROM tlog_leaves WHERE idx >= 3; DELETE FROM events WHERE tlog_index >= 3");
  db.close();
  const reopened = new Database(first.dbPath);
  const store = new TlogStore(reopened);
  assert.equal(store.size(), 3);
  reopened.close();

  const second = await startTestRegistry(t, { dataDir });
  assert.equal((await (await second.call("/health")).json()).status, "degraded");
  for (const path of ["/tlog/head", "/checkpoint", "/v/tok-new"]) {
    const res = await second.call(path);
    assert.equal(res.status, 503, path);
    assert.equal((await envelope(res)).code, "server_error");
  }
  assert.equal((await second.call("/tlog/range?start=0&limit=10")).status, 200, "reads of what is there still work");
});
