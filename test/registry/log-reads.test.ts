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
    for (let index = 0; index < n; index++) assert.equal(log.inclusionJson(index, n), JSON.stringify(log.inclusion(index, n)), `${index}/${n}`);
  }
  for (const index of [0, 20, size - 1]) {
    const answer = await reg.call(`/tlog/proof/${index}`, { auth: false });
    assert.equal(answer.headers.get("content-type"), "application/json; charset=utf-8");
    assert.equal(await answer.text(), JSON.stringify(log.inclusion(index)));
  }
  assert.throws(() => log.inclusionJson(size), { code: "not_found" });
});

test("warmNodeCache fills the proof cache one slice per turn and resolves when full, or at once when stopped", async (t) => {
  const reg = await startTestRegistry(t);
  for (let i = 0; i < 40; i++) assert.equal((await reg.call(`/p/unknown-token-${i}.png`, { auth: false })).status, 200);
  const log = reg.service.log;
  const stopped = log.warmNodeCache();
  stopped.stop();
  await stopped.done;
  const warming = log.warmNodeCache();
  await warming.done;
  assert.equal(reg.service.registry.store.warmNodeCache(1), true, "nothing left to read");
  const size = log.size();
  for (const index of [0, 17, size - 1]) assert.equal(log.inclusionJson(index), JSON.stringify(log.inclusion(index)));
});
