import assert from "node:assert/strict";
import { closeSync, openSync, writeFileSync, writeSync, existsSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import Database from "better-sqlite3";
import { tempDir } from "../temp.js";
import { startTestRegistry } from "./registry-server.js";

test("a database file that is not a database stops the server at start with the command to run", async (t) => {
  const dataDir = tempDir(t);
  const dbPath = path.join(dataDir, "oversight-registry.sqlite");
  writeFileSync(dbPath, Buffer.alloc(8192, 0x5a));
  await assert.rejects(startTestRegistry(t, { dataDir, dbPath }), (error: unknown) => {
    assert.ok(error instanceof Error);
    assert.match(error.message, /not a database/);
    assert.ok(error.message.includes(`oversight-registry --db ${dbPath} --data-dir ${dataDir} --validate-db`), error.message);
    assert.ok(error.message.includes("node dist/main.js"), error.message);
    return true;
  });
});

test("a request that meets a damaged page answers 500 and logs the command to run", async (t) => {
  const dataDir = tempDir(t);
  const first = await startTestRegistry(t, { dataDir });
  // 320 leaves = 256 + 64: the log's right edge lives in stored nodes, so start-up never reads the first leaf page.
  for (let i = 0; i < 320; i++) assert.equal((await first.call(`/v/tok-${i}`)).status, 200);
  await first.close();
  assert.equal(existsSync(`${first.dbPath}-wal`), false, "the WAL is checkpointed into the file at close");

  const db = new Database(first.dbPath, { readonly: true });
  const pageSize = db.pragma("page_size", { simple: true }) as number;
  const leafPages = db.prepare("SELECT pageno FROM dbstat WHERE name = 'tlog_leaves' AND pagetype = 'leaf' ORDER BY pageno").pluck().all() as number[];
  const firstLeafPage = db.prepare("SELECT pageno FROM dbstat WHERE name = 'tlog_leaves' AND path = '/000/'").pluck().get() as number;
  db.close();
  assert.ok(leafPages.length > 2, `tlog_leaves has ${leafPages.length} leaf pages`);
  const fd = openSync(first.dbPath, "r+");
  writeSync(fd, Buffer.alloc(pageSize, 0xa5), 0, pageSize, (firstLeafPage - 1) * pageSize);
  closeSync(fd);

  const second = await startTestRegistry(t, { dataDir });
  const res = await second.call("/tlog/range?start=0&limit=10");
  assert.equal(res.status, 500);
  const line = second.logLines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l["msg"] === "request failed");
  assert.ok(line, second.logLines.join(""));
  assert.match(String(line["hint"]), /oversight-registry --db FILE --data-dir DIR --validate-db/);
  assert.match(String(line["hint"]), /node dist\/main\.js/);
});
