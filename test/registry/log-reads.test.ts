import assert from "node:assert/strict";
import { test } from "node:test";
import { startTestRegistry } from "../http/registry-server.js";

test("inclusionJson writes the very bytes JSON.stringify gives for the proof, for every leaf and size, and /tlog/proof serves them", async (t) => {
  const reg = await startTestRegistry(t);
  for (let i = 0; i < 37; i++) assert.equal((await reg.call(`/p/unknown-token-${i}.png`, { auth: false })).status, 200);
  const log = reg.service.log;
  const size = log.size();
  assert.ok(size >= 37, `${size} leaves`);
  for (let n = 1; n <= size; n++) {
    for (let index = 0; index < n; index++) assert.equal(await log.inclusionJson(index, n), JSON.stringify(await log.inclusion(index, n)), `${index}/${n}`);
  }
  for (const index of [0, 20, size - 1]) {
    const answer = await reg.call(`/tlog/proof/${index}`, { auth: false });
    assert.equal(answer.headers.get("content-type"), "application/json; charset=utf-8");
    assert.equal(await answer.text(), JSON.stringify(await log.inclusion(index)));
  }
  assert.throws(() => log.inclusionJson(size), { code: "not_found" });
});

test("warmNodeCache fills the proof cache one slice per turn and resolves when full, or at once when stopped", async (t) => {
  const reg = await startTestRegistry(t);
  for (let i = 0; i < 40; i++) assert.equal((await reg.call(`/p/unknown-token-${i}.png`, { auth: false })).status, 200);
  const log = reg.service.log;
  const stopped = log.warmNodeCache();
  stopped.stop();
  assert.equal(await stopped.done, false);
  const warming = log.warmNodeCache();
  assert.equal(await warming.done, true);
  assert.equal(reg.service.registry.store.warmNodeCache(1), true, "nothing left to read");
  const size = log.size();
  for (const index of [0, 17, size - 1]) assert.equal(await log.inclusionJson(index), JSON.stringify(await log.inclusion(index)));
});

test("the server fills the proof node cache from startup and logs when it is full", async (t) => {
  const reg = await startTestRegistry(t, {}, "info");
  const filled = () => reg.logLines.map((line) => JSON.parse(line) as Record<string, unknown>).find((record) => record["msg"] === "proof node cache filled");
  // The first slice runs on the turn after startup; an empty log is full at once.
  for (let turn = 0; turn < 1000 && filled() === undefined; turn++) await new Promise((resolve) => setImmediate(resolve));
  assert.equal(filled()?.["tlog_size"], 0);
  assert.equal(typeof filled()?.["ms"], "number");
});
